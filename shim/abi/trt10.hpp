// shim/abi/trt10.hpp -- hand-written TensorRT 10.x ABI declarations (10.0 ... 10.16).
//
// Written for trtq-lite from the ABI facts in shared/abi-facts (read off NVIDIA's
// published headers by the reviewer probe). No NVIDIA header is included or copied.
// Layout: the 10.0.1 vtables. 10.x is append-only for every class below (see
// shared/abi-facts/evolution.txt), so this layout is valid for 10.0 ... 10.16, with
// one caveat: the 10.8.0 header inserts VNetworkDefinition::addCumulative at slot 63,
// so VNetworkDefinition slots >= 63 (getBuilder, getFlags, getFlag) are never called.
// Methods appended in later 10.x minors are listed as comments with their minimum
// version (kMin...); the shim checks getInferLibVersion() before any such call.
//
// Rules used throughout (verified by scripts/check-abi.sh against the facts):
//  * namespaces, class names, method names, signatures and `noexcept` as in the
//    official headers; slots we never call are placeholders `_slotN` (N = the slot);
//  * wrappers (IBuilder, ...) are {vptr, apiv::V* mImpl} with inline forwarding,
//    exactly like the official headers; every call goes through mImpl;
//  * a virtual destructor takes two slots (D1, D0) where it is declared.
#pragma once

#include <cstddef>
#include <cstdint>

#define TRTQ_TRT_ABI 10

namespace nvinfer1
{
using AsciiChar = char;
using InterfaceKind = char const*;

// Versions (getInferLibVersion format for 10.x: major*10000 + minor*100 + patch).
constexpr int32_t kTrtqAbiBaseVersion = 100001;           // the layout declared here

class Dims64
{
public:
    static constexpr int32_t MAX_DIMS{8};
    int32_t nbDims;
    int64_t d[MAX_DIMS];
};
using Dims = Dims64;

// Returned by value in RAX:RDX: must stay trivially copyable and 16 bytes.
class InterfaceInfo
{
public:
    char const* kind;
    int32_t major;
    int32_t minor;
};

enum class DataType : int32_t
{
    kFLOAT = 0,
    kHALF = 1,
    kINT8 = 2,
    kINT32 = 3,
    kBOOL = 4,
    kUINT8 = 5,
    kFP8 = 6,
    kBF16 = 7,
    kINT64 = 8,
    kINT4 = 9,
    // 10.8: kFP4 = 10; 10.12: kE8M0 = 11 (never produced by an ONNX input we accept)
};

// Renumbered against 8.x after kGPU_FALLBACK (kSTRICT_TYPES and kENABLE_TACTIC_HEURISTIC gone).
enum class BuilderFlag : int32_t
{
    kFP16 = 0,
    kINT8 = 1,
    kDEBUG = 2,
    kGPU_FALLBACK = 3,
    kREFIT = 4,
    kDISABLE_TIMING_CACHE = 5,
    kTF32 = 6,
    kSPARSE_WEIGHTS = 7,
    kSAFETY_SCOPE = 8,
    kOBEY_PRECISION_CONSTRAINTS = 9,
    kPREFER_PRECISION_CONSTRAINTS = 10,
    kDIRECT_IO = 11,
    kREJECT_EMPTY_ALGORITHMS = 12,
    kVERSION_COMPATIBLE = 13,
    kEXCLUDE_LEAN_RUNTIME = 14,
    kFP8 = 15,
    kERROR_ON_TIMING_CACHE_MISS = 16,
    kBF16 = 17,
    kDISABLE_COMPILATION_CACHE = 18,
    kSTRIP_PLAN = 19,
    kWEIGHTLESS = kSTRIP_PLAN,
    kREFIT_IDENTICAL = 20,
    kWEIGHT_STREAMING = 21,
};
using BuilderFlags = uint32_t;

enum class MemoryPoolType : int32_t
{
    kWORKSPACE = 0,
    kDLA_MANAGED_SRAM = 1,
    kDLA_LOCAL_DRAM = 2,
    kDLA_GLOBAL_DRAM = 3,
    kTACTIC_DRAM = 4,
    kTACTIC_SHARED_MEMORY = 5,
};

enum class OptProfileSelector : int32_t
{
    kMIN = 0,
    kOPT = 1,
    kMAX = 2,
};

// 10.x: bit 0 (kEXPLICIT_BATCH) is ignored, networks are always explicit-batch; bit 1 is
// kSTRONGLY_TYPED (it was kEXPLICIT_PRECISION in 8.x). The shim passes flags = 0.
enum class NetworkDefinitionCreationFlag : int32_t
{
    kEXPLICIT_BATCH = 0,
    kSTRONGLY_TYPED = 1,
};
using NetworkDefinitionCreationFlags = uint32_t;

enum class DeviceType : int32_t
{
    kGPU = 0,
    kDLA = 1,
};

enum class CalibrationAlgoType : int32_t
{
    kLEGACY_CALIBRATION = 0,
    kENTROPY_CALIBRATION = 1,
    kENTROPY_CALIBRATION_2 = 2,
    kMINMAX_CALIBRATION = 3,
};

enum class APILanguage : int32_t
{
    kCPP = 0,
    kPYTHON = 1,
};

// Types only named in placeholder-free signatures; never dereferenced by the shim.
class IPluginRegistry;
class ILayer;

class ILogger
{
public:
    enum class Severity : int32_t
    {
        kINTERNAL_ERROR = 0,
        kERROR = 1,
        kWARNING = 2,
        kINFO = 3,
        kVERBOSE = 4,
    };
    virtual void log(Severity severity, AsciiChar const* msg) noexcept = 0;
    ILogger() = default;
    virtual ~ILogger() = default;

protected:
    ILogger(ILogger const&) = default;
    ILogger(ILogger&&) = default;
    ILogger& operator=(ILogger const&) & = default;
    ILogger& operator=(ILogger&&) & = default;
};

// Base of the 10.x calibrators: slots 0/1, then the destructor at 2/3.
class IVersionedInterface
{
public:
    virtual APILanguage getAPILanguage() const noexcept
    {
        return APILanguage::kCPP;
    }
    virtual InterfaceInfo getInterfaceInfo() const noexcept = 0;
    virtual ~IVersionedInterface() noexcept = default;

protected:
    IVersionedInterface() = default;
    IVersionedInterface(IVersionedInterface const&) = default;
    IVersionedInterface(IVersionedInterface&&) = default;
    IVersionedInterface& operator=(IVersionedInterface const&) & = default;
    IVersionedInterface& operator=(IVersionedInterface&&) & = default;
};

class IInt8Calibrator : public IVersionedInterface
{
public:
    virtual int32_t getBatchSize() const noexcept = 0;
    virtual bool getBatch(void* bindings[], char const* names[], int32_t nbBindings) noexcept = 0;
    virtual void const* readCalibrationCache(std::size_t& length) noexcept = 0;
    virtual void writeCalibrationCache(void const* ptr, std::size_t length) noexcept = 0;
    virtual CalibrationAlgoType getAlgorithm() noexcept = 0;
    ~IInt8Calibrator() noexcept override = default;
};

// The concrete calibrator interfaces live in v_1_0 (RTTI and mangled names follow the
// namespace), with inline getInterfaceInfo/getAlgorithm as in the official header.
namespace v_1_0
{
class IInt8EntropyCalibrator : public IInt8Calibrator
{
public:
    InterfaceInfo getInterfaceInfo() const noexcept override
    {
        return InterfaceInfo{"IInt8EntropyCalibrator", 1, 0};
    }
    CalibrationAlgoType getAlgorithm() noexcept override
    {
        return CalibrationAlgoType::kENTROPY_CALIBRATION;
    }
    ~IInt8EntropyCalibrator() noexcept override = default;
};

class IInt8EntropyCalibrator2 : public IInt8Calibrator
{
public:
    InterfaceInfo getInterfaceInfo() const noexcept override
    {
        return InterfaceInfo{"IInt8EntropyCalibrator2", 1, 0};
    }
    CalibrationAlgoType getAlgorithm() noexcept override
    {
        return CalibrationAlgoType::kENTROPY_CALIBRATION_2;
    }
    ~IInt8EntropyCalibrator2() noexcept override = default;
};

class IInt8MinMaxCalibrator : public IInt8Calibrator
{
public:
    InterfaceInfo getInterfaceInfo() const noexcept override
    {
        return InterfaceInfo{"IInt8MinMaxCalibrator", 1, 0};
    }
    CalibrationAlgoType getAlgorithm() noexcept override
    {
        return CalibrationAlgoType::kMINMAX_CALIBRATION;
    }
    ~IInt8MinMaxCalibrator() noexcept override = default;
};

// The official header reports kind "IInt8Calibrator" for the legacy calibrator.
class IInt8LegacyCalibrator : public IInt8Calibrator
{
public:
    InterfaceInfo getInterfaceInfo() const noexcept override
    {
        return InterfaceInfo{"IInt8Calibrator", 1, 0};
    }
    CalibrationAlgoType getAlgorithm() noexcept override
    {
        return CalibrationAlgoType::kLEGACY_CALIBRATION;
    }
    virtual double getQuantile() const noexcept = 0;
    virtual double getRegressionCutoff() const noexcept = 0;
    virtual void const* readHistogramCache(std::size_t& length) noexcept = 0;
    virtual void writeHistogramCache(void const* ptr, std::size_t length) noexcept = 0;
    ~IInt8LegacyCalibrator() noexcept override = default;
};
} // namespace v_1_0
using IInt8EntropyCalibrator = v_1_0::IInt8EntropyCalibrator;
using IInt8EntropyCalibrator2 = v_1_0::IInt8EntropyCalibrator2;
using IInt8MinMaxCalibrator = v_1_0::IInt8MinMaxCalibrator;
using IInt8LegacyCalibrator = v_1_0::IInt8LegacyCalibrator;

class IBuilder;
class IBuilderConfig;
class INetworkDefinition;
class IOptimizationProfile;
class IHostMemory;
class ITensor;

// Objects created by TensorRT have a virtual destructor at wrapper slots 0/1; `delete`
// on a wrapper pointer is how they are released.
class INoCopy
{
protected:
    INoCopy() = default;
    virtual ~INoCopy() = default;
    INoCopy(INoCopy const&) = delete;
    INoCopy(INoCopy&&) = delete;
    INoCopy& operator=(INoCopy const&) = delete;
    INoCopy& operator=(INoCopy&&) = delete;
};

namespace apiv
{
class VRoot
{
public:
    virtual ~VRoot() noexcept = default;
};

class VHostMemory : public VRoot
{
public:
    virtual void* data() const noexcept = 0;
    virtual std::size_t size() const noexcept = 0;
    virtual DataType type() const noexcept = 0;
};

class VTensor : public VRoot
{
public:
    virtual void setName(char const* name) noexcept = 0;
    virtual char const* getName() const noexcept = 0;
    virtual void setDimensions(Dims64 const& dimensions) noexcept = 0;
    virtual Dims64 getDimensions() const noexcept = 0;
    virtual void setType(DataType type) noexcept = 0;
    virtual DataType getType() const noexcept = 0;
    virtual bool setDynamicRange(float min, float max) noexcept = 0;
    virtual bool isNetworkInput() const noexcept = 0;
    virtual bool isNetworkOutput() const noexcept = 0;
    virtual void _slot11() noexcept = 0;
    virtual void _slot12() noexcept = 0;
    virtual void _slot13() noexcept = 0;
    virtual void _slot14() noexcept = 0;
    virtual void _slot15() noexcept = 0;
    virtual void _slot16() noexcept = 0;
    virtual void _slot17() noexcept = 0;
    virtual void _slot18() noexcept = 0;
    virtual void _slot19() noexcept = 0;
    virtual void _slot20() noexcept = 0;
    virtual void _slot21() noexcept = 0;
    virtual void _slot22() noexcept = 0;
    virtual void setDimensionName(int32_t index, char const* name) noexcept = 0;
    virtual char const* getDimensionName(int32_t index) const noexcept = 0;
};

class VNetworkDefinition : public VRoot
{
public:
    virtual ITensor* addInput(char const* name, DataType type, Dims64 const& dimensions) noexcept = 0;
    virtual void markOutput(ITensor& tensor) noexcept = 0;
    virtual void _slot4() noexcept = 0;
    virtual void _slot5() noexcept = 0;
    virtual void _slot6() noexcept = 0;
    virtual void _slot7() noexcept = 0;
    virtual void _slot8() noexcept = 0;
    virtual void _slot9() noexcept = 0;
    virtual void _slot10() noexcept = 0;
    virtual void _slot11() noexcept = 0;
    virtual int32_t getNbLayers() const noexcept = 0;
    virtual ILayer* getLayer(int32_t index) const noexcept = 0;
    virtual int32_t getNbInputs() const noexcept = 0;
    virtual ITensor* getInput(int32_t index) const noexcept = 0;
    virtual int32_t getNbOutputs() const noexcept = 0;
    virtual ITensor* getOutput(int32_t index) const noexcept = 0;
    virtual void _slot18() noexcept = 0;
    virtual void _slot19() noexcept = 0;
    virtual void _slot20() noexcept = 0;
    virtual void _slot21() noexcept = 0;
    virtual void _slot22() noexcept = 0;
    virtual void _slot23() noexcept = 0;
    virtual void _slot24() noexcept = 0;
    virtual void _slot25() noexcept = 0;
    virtual void _slot26() noexcept = 0;
    virtual void _slot27() noexcept = 0;
    virtual void _slot28() noexcept = 0;
    virtual void _slot29() noexcept = 0;
    virtual void setName(char const* name) noexcept = 0;
    virtual char const* getName() const noexcept = 0;
    virtual void _slot32() noexcept = 0;
    virtual bool hasImplicitBatchDimension() const noexcept = 0;
    virtual void _slot34() noexcept = 0;
    virtual void _slot35() noexcept = 0;
    virtual void _slot36() noexcept = 0;
    virtual void _slot37() noexcept = 0;
    virtual void _slot38() noexcept = 0;
    virtual void _slot39() noexcept = 0;
    virtual void _slot40() noexcept = 0;
    virtual void _slot41() noexcept = 0;
    virtual void _slot42() noexcept = 0;
    virtual void _slot43() noexcept = 0;
    virtual void _slot44() noexcept = 0;
    virtual void _slot45() noexcept = 0;
    virtual void _slot46() noexcept = 0;
    virtual void _slot47() noexcept = 0;
    virtual void _slot48() noexcept = 0;
    virtual void _slot49() noexcept = 0;
    virtual void _slot50() noexcept = 0;
    virtual void _slot51() noexcept = 0;
    virtual void _slot52() noexcept = 0;
    virtual void _slot53() noexcept = 0;
    virtual void _slot54() noexcept = 0;
    virtual void _slot55() noexcept = 0;
    virtual void _slot56() noexcept = 0;
    virtual void _slot57() noexcept = 0;
    virtual void _slot58() noexcept = 0;
    virtual void _slot59() noexcept = 0;
    virtual void _slot60() noexcept = 0;
    virtual void _slot61() noexcept = 0;
    virtual void _slot62() noexcept = 0;
    // Slots >= 63 moved in the 10.8.0 header (addCumulative inserted at 63): never called.
    virtual IBuilder& getBuilder() const noexcept = 0;
    virtual NetworkDefinitionCreationFlags getFlags() const noexcept = 0;
    virtual bool getFlag(NetworkDefinitionCreationFlag networkDefinitionCreationFlag) const noexcept = 0;
    virtual void _slot66() noexcept = 0;
    virtual void _slot67() noexcept = 0;
    virtual void _slot68() noexcept = 0;
    virtual void _slot69() noexcept = 0;
    virtual void _slot70() noexcept = 0;
    virtual void _slot71() noexcept = 0;
};

class VOptimizationProfile : public VRoot
{
public:
    virtual bool setDimensions(char const* inputName, OptProfileSelector select, Dims64 const& dims) noexcept = 0;
    virtual Dims64 getDimensions(char const* inputName, OptProfileSelector select) const noexcept = 0;
    virtual bool setShapeValues(
        char const* inputName, OptProfileSelector select, int32_t const* values, int32_t nbValues) noexcept = 0;
    virtual int32_t getNbShapeValues(char const* inputName) const noexcept = 0;
    virtual int32_t const* getShapeValues(char const* inputName, OptProfileSelector select) const noexcept = 0;
    virtual bool setExtraMemoryTarget(float target) noexcept = 0;
    virtual float getExtraMemoryTarget() const noexcept = 0;
    virtual bool isValid() const noexcept = 0;
    // 10.13: setShapeValuesV2 @10, getShapeValuesV2 @11 (appended; not used)
};

class VBuilderConfig : public VRoot
{
public:
    virtual void setAvgTimingIterations(int32_t avgTiming) noexcept = 0;
    virtual int32_t getAvgTimingIterations() const noexcept = 0;
    virtual void _slot4() noexcept = 0;
    virtual void _slot5() noexcept = 0;
    virtual void setInt8Calibrator(IInt8Calibrator* calibrator) noexcept = 0;
    virtual IInt8Calibrator* getInt8Calibrator() const noexcept = 0;
    virtual void setFlags(BuilderFlags builderFlags) noexcept = 0;
    virtual BuilderFlags getFlags() const noexcept = 0;
    virtual void clearFlag(BuilderFlag builderFlag) noexcept = 0;
    virtual void setFlag(BuilderFlag builderFlag) noexcept = 0;
    virtual bool getFlag(BuilderFlag builderFlag) const noexcept = 0;
    virtual void _slot13() noexcept = 0;
    virtual void _slot14() noexcept = 0;
    virtual void _slot15() noexcept = 0;
    virtual void _slot16() noexcept = 0;
    virtual void _slot17() noexcept = 0;
    virtual void setDLACore(int32_t dlaCore) noexcept = 0;
    virtual int32_t getDLACore() const noexcept = 0;
    virtual void setDefaultDeviceType(DeviceType deviceType) noexcept = 0;
    virtual DeviceType getDefaultDeviceType() const noexcept = 0;
    virtual void reset() noexcept = 0;
    virtual void _slot23() noexcept = 0;
    virtual void _slot24() noexcept = 0;
    virtual int32_t addOptimizationProfile(IOptimizationProfile const* profile) noexcept = 0;
    virtual int32_t getNbOptimizationProfiles() const noexcept = 0;
    virtual void _slot27() noexcept = 0;
    virtual void _slot28() noexcept = 0;
    virtual void _slot29() noexcept = 0;
    virtual void _slot30() noexcept = 0;
    virtual bool setCalibrationProfile(IOptimizationProfile const* profile) noexcept = 0;
    virtual IOptimizationProfile const* getCalibrationProfile() noexcept = 0;
    virtual void _slot33() noexcept = 0;
    virtual void _slot34() noexcept = 0;
    virtual void _slot35() noexcept = 0;
    virtual void _slot36() noexcept = 0;
    virtual void _slot37() noexcept = 0;
    virtual void _slot38() noexcept = 0;
    virtual void _slot39() noexcept = 0;
    virtual void _slot40() noexcept = 0;
    virtual void _slot41() noexcept = 0;
    virtual void _slot42() noexcept = 0;
    virtual void setMemoryPoolLimit(MemoryPoolType pool, std::size_t poolSize) noexcept = 0;
    virtual std::size_t getMemoryPoolLimit(MemoryPoolType pool) const noexcept = 0;
    virtual void _slot45() noexcept = 0;
    virtual void _slot46() noexcept = 0;
    virtual void _slot47() noexcept = 0;
    virtual void _slot48() noexcept = 0;
    virtual void _slot49() noexcept = 0;
    virtual void _slot50() noexcept = 0;
    virtual void _slot51() noexcept = 0;
    virtual void _slot52() noexcept = 0;
    virtual void _slot53() noexcept = 0;
    virtual void _slot54() noexcept = 0;
    virtual void _slot55() noexcept = 0;
    virtual void _slot56() noexcept = 0;
    virtual void _slot57() noexcept = 0;
    // Appended later (not used): 10.3 @58..59, 10.8 @60..65, 10.13 @66..67.
};

class VBuilder : public VRoot
{
public:
    virtual bool platformHasFastFp16() const noexcept = 0;
    virtual bool platformHasFastInt8() const noexcept = 0;
    virtual int32_t getMaxDLABatchSize() const noexcept = 0;
    virtual int32_t getNbDLACores() const noexcept = 0;
    virtual void _slot6() noexcept = 0;
    virtual IBuilderConfig* createBuilderConfig() noexcept = 0;
    virtual INetworkDefinition* createNetworkV2(NetworkDefinitionCreationFlags flags) noexcept = 0;
    virtual IOptimizationProfile* createOptimizationProfile() noexcept = 0;
    virtual void _slot10() noexcept = 0;
    virtual void _slot11() noexcept = 0;
    virtual void reset() noexcept = 0;
    virtual bool platformHasTf32() const noexcept = 0;
    virtual IHostMemory* buildSerializedNetwork(INetworkDefinition& network, IBuilderConfig& config) noexcept = 0;
    virtual bool isNetworkSupported(INetworkDefinition const& network, IBuilderConfig const& config) const noexcept = 0;
    virtual ILogger* getLogger() const noexcept = 0;
    virtual bool setMaxThreads(int32_t maxThreads) noexcept = 0;
    virtual int32_t getMaxThreads() const noexcept = 0;
    virtual IPluginRegistry& getPluginRegistry() noexcept = 0;
    // Appended later (not used): 10.8 buildEngineWithConfig @20; 10.13 @21..22.
};
} // namespace apiv

// ---- public wrappers: {vptr, mImpl}, every method forwards to mImpl ----

class IHostMemory : public INoCopy
{
public:
    virtual ~IHostMemory() noexcept = default;
    void* data() const noexcept
    {
        return mImpl->data();
    }
    std::size_t size() const noexcept
    {
        return mImpl->size();
    }
    DataType type() const noexcept
    {
        return mImpl->type();
    }

protected:
    apiv::VHostMemory* mImpl;
};

class ITensor : public INoCopy
{
public:
    virtual ~ITensor() noexcept = default;
    void setName(char const* name) noexcept
    {
        mImpl->setName(name);
    }
    char const* getName() const noexcept
    {
        return mImpl->getName();
    }
    void setDimensions(Dims64 const& dimensions) noexcept
    {
        mImpl->setDimensions(dimensions);
    }
    Dims64 getDimensions() const noexcept
    {
        return mImpl->getDimensions();
    }
    void setType(DataType type) noexcept
    {
        mImpl->setType(type);
    }
    DataType getType() const noexcept
    {
        return mImpl->getType();
    }
    bool setDynamicRange(float min, float max) noexcept
    {
        return mImpl->setDynamicRange(min, max);
    }
    bool isNetworkInput() const noexcept
    {
        return mImpl->isNetworkInput();
    }
    bool isNetworkOutput() const noexcept
    {
        return mImpl->isNetworkOutput();
    }
    void setDimensionName(int32_t index, char const* name) noexcept
    {
        mImpl->setDimensionName(index, name);
    }
    char const* getDimensionName(int32_t index) const noexcept
    {
        return mImpl->getDimensionName(index);
    }

protected:
    apiv::VTensor* mImpl;
};

class INetworkDefinition : public INoCopy
{
public:
    virtual ~INetworkDefinition() noexcept = default;
    ITensor* addInput(char const* name, DataType type, Dims64 const& dimensions) noexcept
    {
        return mImpl->addInput(name, type, dimensions);
    }
    void markOutput(ITensor& tensor) noexcept
    {
        mImpl->markOutput(tensor);
    }
    int32_t getNbLayers() const noexcept
    {
        return mImpl->getNbLayers();
    }
    ILayer* getLayer(int32_t index) const noexcept
    {
        return mImpl->getLayer(index);
    }
    int32_t getNbInputs() const noexcept
    {
        return mImpl->getNbInputs();
    }
    ITensor* getInput(int32_t index) const noexcept
    {
        return mImpl->getInput(index);
    }
    int32_t getNbOutputs() const noexcept
    {
        return mImpl->getNbOutputs();
    }
    ITensor* getOutput(int32_t index) const noexcept
    {
        return mImpl->getOutput(index);
    }
    void setName(char const* name) noexcept
    {
        mImpl->setName(name);
    }
    char const* getName() const noexcept
    {
        return mImpl->getName();
    }
    bool hasImplicitBatchDimension() const noexcept
    {
        return mImpl->hasImplicitBatchDimension();
    }
    // Wrapper slot 2 (virtual in the official header). Forwards to a VNetworkDefinition
    // slot >= 63: never called (see the file comment).
    virtual IBuilder& getBuilder() const noexcept
    {
        return mImpl->getBuilder();
    }
    NetworkDefinitionCreationFlags getFlags() const noexcept
    {
        return mImpl->getFlags();
    }
    bool getFlag(NetworkDefinitionCreationFlag networkDefinitionCreationFlag) const noexcept
    {
        return mImpl->getFlag(networkDefinitionCreationFlag);
    }

protected:
    apiv::VNetworkDefinition* mImpl;
};

class IOptimizationProfile : public INoCopy
{
public:
    virtual ~IOptimizationProfile() noexcept = default;
    bool setDimensions(char const* inputName, OptProfileSelector select, Dims64 const& dims) noexcept
    {
        return mImpl->setDimensions(inputName, select, dims);
    }
    Dims64 getDimensions(char const* inputName, OptProfileSelector select) const noexcept
    {
        return mImpl->getDimensions(inputName, select);
    }
    bool isValid() const noexcept
    {
        return mImpl->isValid();
    }

protected:
    apiv::VOptimizationProfile* mImpl;
};

class IBuilderConfig : public INoCopy
{
public:
    virtual ~IBuilderConfig() noexcept = default;
    // Wrapper slot 2 (virtual in the official header).
    virtual void setAvgTimingIterations(int32_t avgTiming) noexcept
    {
        mImpl->setAvgTimingIterations(avgTiming);
    }
    int32_t getAvgTimingIterations() const noexcept
    {
        return mImpl->getAvgTimingIterations();
    }
    void setInt8Calibrator(IInt8Calibrator* calibrator) noexcept
    {
        mImpl->setInt8Calibrator(calibrator);
    }
    IInt8Calibrator* getInt8Calibrator() const noexcept
    {
        return mImpl->getInt8Calibrator();
    }
    void setFlags(BuilderFlags builderFlags) noexcept
    {
        mImpl->setFlags(builderFlags);
    }
    BuilderFlags getFlags() const noexcept
    {
        return mImpl->getFlags();
    }
    void clearFlag(BuilderFlag builderFlag) noexcept
    {
        mImpl->clearFlag(builderFlag);
    }
    void setFlag(BuilderFlag builderFlag) noexcept
    {
        mImpl->setFlag(builderFlag);
    }
    bool getFlag(BuilderFlag builderFlag) const noexcept
    {
        return mImpl->getFlag(builderFlag);
    }
    void setDLACore(int32_t dlaCore) noexcept
    {
        mImpl->setDLACore(dlaCore);
    }
    int32_t getDLACore() const noexcept
    {
        return mImpl->getDLACore();
    }
    void setDefaultDeviceType(DeviceType deviceType) noexcept
    {
        mImpl->setDefaultDeviceType(deviceType);
    }
    DeviceType getDefaultDeviceType() const noexcept
    {
        return mImpl->getDefaultDeviceType();
    }
    void reset() noexcept
    {
        mImpl->reset();
    }
    int32_t addOptimizationProfile(IOptimizationProfile const* profile) noexcept
    {
        return mImpl->addOptimizationProfile(profile);
    }
    int32_t getNbOptimizationProfiles() const noexcept
    {
        return mImpl->getNbOptimizationProfiles();
    }
    bool setCalibrationProfile(IOptimizationProfile const* profile) noexcept
    {
        return mImpl->setCalibrationProfile(profile);
    }
    IOptimizationProfile const* getCalibrationProfile() noexcept
    {
        return mImpl->getCalibrationProfile();
    }
    void setMemoryPoolLimit(MemoryPoolType pool, std::size_t poolSize) noexcept
    {
        mImpl->setMemoryPoolLimit(pool, poolSize);
    }
    std::size_t getMemoryPoolLimit(MemoryPoolType pool) const noexcept
    {
        return mImpl->getMemoryPoolLimit(pool);
    }

protected:
    apiv::VBuilderConfig* mImpl;
};

class IBuilder : public INoCopy
{
public:
    virtual ~IBuilder() noexcept = default;
    bool platformHasFastFp16() const noexcept
    {
        return mImpl->platformHasFastFp16();
    }
    bool platformHasFastInt8() const noexcept
    {
        return mImpl->platformHasFastInt8();
    }
    int32_t getMaxDLABatchSize() const noexcept
    {
        return mImpl->getMaxDLABatchSize();
    }
    int32_t getNbDLACores() const noexcept
    {
        return mImpl->getNbDLACores();
    }
    IBuilderConfig* createBuilderConfig() noexcept
    {
        return mImpl->createBuilderConfig();
    }
    INetworkDefinition* createNetworkV2(NetworkDefinitionCreationFlags flags) noexcept
    {
        return mImpl->createNetworkV2(flags);
    }
    IOptimizationProfile* createOptimizationProfile() noexcept
    {
        return mImpl->createOptimizationProfile();
    }
    void reset() noexcept
    {
        mImpl->reset();
    }
    bool platformHasTf32() const noexcept
    {
        return mImpl->platformHasTf32();
    }
    IHostMemory* buildSerializedNetwork(INetworkDefinition& network, IBuilderConfig& config) noexcept
    {
        return mImpl->buildSerializedNetwork(network, config);
    }
    bool isNetworkSupported(INetworkDefinition const& network, IBuilderConfig const& config) const noexcept
    {
        return mImpl->isNetworkSupported(network, config);
    }
    ILogger* getLogger() const noexcept
    {
        return mImpl->getLogger();
    }
    bool setMaxThreads(int32_t maxThreads) noexcept
    {
        return mImpl->setMaxThreads(maxThreads);
    }
    int32_t getMaxThreads() const noexcept
    {
        return mImpl->getMaxThreads();
    }
    IPluginRegistry& getPluginRegistry() noexcept
    {
        return mImpl->getPluginRegistry();
    }

protected:
    apiv::VBuilder* mImpl;
};
} // namespace nvinfer1

// ---- ONNX parser (pure interfaces implemented by libnvonnxparser) ----
#define NV_ONNX_PARSER_MAJOR 0
#define NV_ONNX_PARSER_MINOR 1
#define NV_ONNX_PARSER_PATCH 0
// Passed to createNvOnnxParser_INTERNAL; 100 in every release 8.5 ... 10.16.
static constexpr int32_t NV_ONNX_PARSER_VERSION
    = ((NV_ONNX_PARSER_MAJOR * 10000) + (NV_ONNX_PARSER_MINOR * 100) + NV_ONNX_PARSER_PATCH);

namespace nvonnxparser
{
enum class ErrorCode : int
{
    kSUCCESS = 0,
    kINTERNAL_ERROR = 1,
    kMEM_ALLOC_FAILED = 2,
    kMODEL_DESERIALIZE_FAILED = 3,
    kINVALID_VALUE = 4,
    kINVALID_GRAPH = 5,
    kINVALID_NODE = 6,
    kUNSUPPORTED_GRAPH = 7,
    kUNSUPPORTED_NODE = 8,
    kUNSUPPORTED_NODE_ATTR = 9,
    kUNSUPPORTED_NODE_INPUT = 10,
    kUNSUPPORTED_NODE_DATATYPE = 11,
    kUNSUPPORTED_NODE_DYNAMIC = 12,
    kUNSUPPORTED_NODE_SHAPE = 13,
    kREFIT_FAILED = 14,
};

// 10.x inserts nodeName/nodeOperator/localFunctionStack* before the (protected) destructor.
// Not noexcept in 10.0.1 (noexcept is not part of the Itanium ABI).
class IParserError
{
public:
    virtual ErrorCode code() const = 0;
    virtual char const* desc() const = 0;
    virtual char const* file() const = 0;
    virtual int line() const = 0;
    virtual char const* func() const = 0;
    virtual int node() const = 0;
    virtual char const* nodeName() const = 0;
    virtual char const* nodeOperator() const = 0;
    virtual char const* const* localFunctionStack() const = 0;
    virtual int32_t localFunctionStackSize() const = 0;

protected:
    virtual ~IParserError() {}
};

// 10.x: no destroy(); the destructor sits between clearErrors and getUsedVCPluginLibraries.
// Methods gained `noexcept` in 10.3 (same ABI).
class IParser
{
public:
    virtual bool parse(void const* serialized_onnx_model, std::size_t serialized_onnx_model_size,
        char const* model_path = nullptr) = 0;
    virtual bool parseFromFile(char const* onnxModelFile, int verbosity) = 0;
    // slot 2 is supportsModel (takes a libstdc++ std::vector by reference): never called.
    virtual void _slot2() = 0;
    virtual bool parseWithWeightDescriptors(void const* serialized_onnx_model, std::size_t serialized_onnx_model_size) = 0;
    virtual bool supportsOperator(char const* op_name) const = 0;
    virtual int getNbErrors() const = 0;
    virtual IParserError const* getError(int index) const = 0;
    virtual void clearErrors() = 0;
    virtual ~IParser() noexcept = default;
    virtual void _slot10() noexcept = 0;
    virtual void _slot11() noexcept = 0;
    virtual void _slot12() noexcept = 0;
    virtual void _slot13() noexcept = 0;
    virtual void _slot14() noexcept = 0;
    virtual void _slot15() noexcept = 0;
    virtual void _slot16() noexcept = 0;
    // Appended later (not used): 10.1 @17..20, 10.13 @21..23, 10.16 @24.
};
} // namespace nvonnxparser

// ---- extern "C" entry points (resolved with dlsym by the Rust side; never linked) ----
extern "C" void* createInferBuilder_INTERNAL(void* logger, int32_t version) noexcept;
extern "C" int32_t getInferLibVersion() noexcept;
extern "C" void* createNvOnnxParser_INTERNAL(void* network, void* logger, int version);
extern "C" int getNvOnnxParserVersion();
