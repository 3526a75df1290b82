//! Owning types over libcuda. Every operation makes its context current for the duration of
//! the call (push/pop), so callers never depend on which context a thread happens to have.
//! `Drop` never panics: a failure there is recorded on the [`Driver`] and printed as a warning.

use std::ffi::{c_int, c_void};
use std::marker::PhantomData;
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::result as r;
use super::sys::{self, CUcontext, CUdevice, CUevent, CUstream, Lib};
use crate::error::{Error, Result};

/// A device address (`CUdeviceptr`). Plain data: validity is the owner's business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DevicePtr(pub u64);

impl DevicePtr {
    pub fn offset(self, bytes: usize) -> DevicePtr {
        DevicePtr(self.0.wrapping_add(bytes as u64))
    }
}

/// libcuda, loaded and initialised (cuInit done).
pub struct Driver {
    lib: Lib,
    drop_errors: Mutex<Vec<String>>,
}

/// What `doctor` reports about one device.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceInfo {
    pub ordinal: usize,
    pub name: String,
    /// (major, minor), e.g. (9, 0) for H100/H200, (8, 7) for Jetson Orin.
    pub compute_capability: (i32, i32),
    pub total_mem: usize,
    /// Shares memory with the host (Jetson): zero-copy mapped memory is the natural path.
    pub integrated: bool,
    pub can_map_host_memory: bool,
    /// cuMemHostRegister accepts CU_MEMHOSTREGISTER_READ_ONLY (needed for read-only file maps).
    pub read_only_host_register: bool,
    pub pci_bus_id: Option<String>,
    /// e.g. 12040 for CUDA 12.4.
    pub driver_version: i32,
}

impl DeviceInfo {
    /// "12.4" from 12040.
    pub fn driver_version_string(&self) -> String {
        format!(
            "{}.{}",
            self.driver_version / 1000,
            (self.driver_version % 1000) / 10
        )
    }
}

impl Driver {
    /// Loads libcuda (`explicit`, else `TRTQ_LIBCUDA`, else the usual places) and runs cuInit.
    pub fn load(explicit: Option<&Path>) -> Result<Arc<Driver>> {
        let lib = sys::load(explicit)?;
        r::init(&lib)?;
        Ok(Arc::new(Driver {
            lib,
            drop_errors: Mutex::new(Vec::new()),
        }))
    }

    pub fn library_path(&self) -> &str {
        &self.lib.path
    }

    pub fn version(&self) -> Result<i32> {
        r::driver_version(&self.lib)
    }

    pub fn device_count(&self) -> Result<usize> {
        Ok(r::device_count(&self.lib)?.max(0) as usize)
    }

    pub fn device_info(&self, ordinal: usize) -> Result<DeviceInfo> {
        let lib = &self.lib;
        let dev = self.device(ordinal)?;
        let attr = |a| r::device_attribute(lib, dev, a);
        Ok(DeviceInfo {
            ordinal,
            name: r::device_name(lib, dev)?,
            compute_capability: (
                attr(sys::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?,
                attr(sys::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?,
            ),
            total_mem: r::device_total_mem(lib, dev)?,
            integrated: attr(sys::CU_DEVICE_ATTRIBUTE_INTEGRATED)? != 0,
            can_map_host_memory: attr(sys::CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY)? != 0,
            read_only_host_register: attr(
                sys::CU_DEVICE_ATTRIBUTE_READ_ONLY_HOST_REGISTER_SUPPORTED,
            )? != 0,
            pci_bus_id: r::device_pci_bus_id(lib, dev)?,
            driver_version: r::driver_version(lib)?,
        })
    }

    fn device(&self, ordinal: usize) -> Result<CUdevice> {
        let n = self.device_count()?;
        if ordinal >= n {
            return Err(Error::BadInput(format!(
                "--device {ordinal}: this machine has {n} CUDA device(s) (ordinals 0..{})",
                n.saturating_sub(1)
            )));
        }
        r::device_get(&self.lib, ordinal as i32)
    }

    /// Failures that happened while releasing resources in `Drop` (also printed as warnings).
    pub fn drop_errors(&self) -> Vec<String> {
        self.drop_errors
            .lock()
            .map(|g| g.clone())
            .unwrap_or_default()
    }

    fn record_drop_error(&self, what: &str, e: Error) {
        let msg = format!("{what}: {e}");
        eprintln!("warning: while releasing CUDA resources: {msg}");
        if let Ok(mut g) = self.drop_errors.lock() {
            g.push(msg);
        }
    }
}

/// The device's primary context, retained for as long as this value lives.
///
/// Why the primary context and not `cuCtxCreate_v2`: TensorRT (and every CUDA runtime-API
/// library) uses the context current on the calling thread, or the device's primary context
/// when none is current. TensorRT builds and calls our calibrator on the thread that called
/// `buildSerializedNetwork`, where we hold this context current ([`Context::bind`]); but
/// TensorRT and cuDNN/cuBLAS may also start helper threads on which nothing is current, and
/// those fall back to the primary context. Using the primary context ourselves means both
/// cases land on the same context, so our device pointers are valid for TensorRT wherever it
/// runs. A private `cuCtxCreate_v2` context would only be right on threads where we made it
/// current. (For the same reason we never need cuCtxDestroy_v2: the primary context is
/// reference-counted and released with cuDevicePrimaryCtxRelease_v2.)
pub struct Context {
    drv: Arc<Driver>,
    cu_ctx: CUcontext,
    cu_dev: CUdevice,
    ordinal: usize,
}

// SAFETY: a CUcontext may be made current on, and used from, any thread; the driver API is
// thread-safe. We never hand out the raw handle for unsynchronised mutation.
unsafe impl Send for Context {}
// SAFETY: as above; all methods take `&self` and the driver serialises internally.
unsafe impl Sync for Context {}

/// The context is current on this thread while this guard lives (pops it on drop).
pub struct CurrentGuard<'a> {
    ctx: &'a Context,
    // The context stack is per thread: the guard must be dropped on the thread that pushed.
    _not_send: PhantomData<*const ()>,
}

impl Drop for CurrentGuard<'_> {
    fn drop(&mut self) {
        if let Err(e) = r::ctx_pop(&self.ctx.drv.lib) {
            self.ctx
                .drv
                .record_drop_error("popping the current context", e);
        }
    }
}

impl Context {
    /// Retains device `ordinal`'s primary context.
    pub fn new(drv: &Arc<Driver>, ordinal: usize) -> Result<Arc<Context>> {
        let cu_dev = drv.device(ordinal)?;
        let cu_ctx = r::primary_ctx_retain(&drv.lib, cu_dev)?;
        Ok(Arc::new(Context {
            drv: drv.clone(),
            cu_ctx,
            cu_dev,
            ordinal,
        }))
    }

    pub fn driver(&self) -> &Arc<Driver> {
        &self.drv
    }

    pub fn ordinal(&self) -> usize {
        self.ordinal
    }

    pub fn info(&self) -> Result<DeviceInfo> {
        self.drv.device_info(self.ordinal)
    }

    fn lib(&self) -> &Lib {
        &self.drv.lib
    }

    /// Makes this context current on the calling thread until the guard is dropped. Hold it
    /// around TensorRT calls so that they use this context.
    pub fn bind(&self) -> Result<CurrentGuard<'_>> {
        // SAFETY: `cu_ctx` is retained for the lifetime of `self`.
        unsafe { r::ctx_push(self.lib(), self.cu_ctx) }?;
        Ok(CurrentGuard {
            ctx: self,
            _not_send: PhantomData,
        })
    }

    /// Whether [`Stream::copy_pinned_batch`] can queue several copies in one call (and
    /// [`Event::query`] works, which deciding when to merge needs).
    pub fn can_batch_copies(&self) -> bool {
        r::has_memcpy_batch(self.lib())
    }

    /// (free, total) device memory in bytes.
    pub fn mem_info(&self) -> Result<(usize, usize)> {
        let _g = self.bind()?;
        r::mem_get_info(self.lib())
    }

    pub fn alloc(self: &Arc<Self>, bytes: usize) -> Result<DeviceBuffer> {
        let _g = self.bind()?;
        let ptr = r::mem_alloc(self.lib(), bytes)?;
        Ok(DeviceBuffer {
            ctx: self.clone(),
            cu_ptr: ptr,
            len: bytes,
        })
    }

    /// Page-locked host memory (cuMemHostAlloc). `mapped` adds CU_MEMHOSTALLOC_DEVICEMAP so the
    /// device can read it in place ([`PinnedBuffer::device_ptr`]); used on integrated GPUs.
    pub fn alloc_pinned(self: &Arc<Self>, bytes: usize, mapped: bool) -> Result<PinnedBuffer> {
        let _g = self.bind()?;
        let flags = sys::CU_MEMHOSTALLOC_PORTABLE
            | if mapped {
                sys::CU_MEMHOSTALLOC_DEVICEMAP
            } else {
                0
            };
        let ptr = r::mem_host_alloc(self.lib(), bytes, flags)?;
        let guard = UseGuard::new(self)?;
        Ok(PinnedBuffer {
            ctx: self.clone(),
            ptr: ptr.cast(),
            len: bytes,
            guard,
        })
    }

    /// Page-locks existing host memory (cuMemHostRegister_v2) so copies from it run at full
    /// speed without a staging copy. `read_only` must be set for read-only file mappings.
    pub fn register_host<'a>(
        self: &Arc<Self>,
        bytes: &'a [u8],
        read_only: bool,
    ) -> Result<HostRegistration<'a>> {
        if bytes.is_empty() {
            return Err(Error::BadInput(
                "cannot register an empty host range".into(),
            ));
        }
        let _g = self.bind()?;
        // No DEVICEMAP: we only copy from registered memory (and with unified addressing,
        // universal on 64-bit Linux, registered memory has a device address anyway).
        let flags = sys::CU_MEMHOSTREGISTER_PORTABLE
            | if read_only {
                sys::CU_MEMHOSTREGISTER_READ_ONLY
            } else {
                0
            };
        let ptr = bytes.as_ptr() as *mut c_void;
        // SAFETY: the range is borrowed for 'a, and the registration (which unregisters in
        // Drop, after waiting for pending copies) cannot outlive that borrow.
        unsafe { r::mem_host_register(self.lib(), ptr, bytes.len(), flags) }?;
        let guard = match UseGuard::new(self) {
            Ok(g) => g,
            Err(e) => {
                // SAFETY: registered just above; nothing uses it yet.
                let _ = unsafe { r::mem_host_unregister(self.lib(), ptr) };
                return Err(e);
            }
        };
        Ok(HostRegistration {
            ctx: self.clone(),
            ptr: bytes.as_ptr(),
            len: bytes.len(),
            guard,
            _borrow: PhantomData,
        })
    }

    pub fn stream(self: &Arc<Self>) -> Result<Stream> {
        let _g = self.bind()?;
        // Non-blocking: our copies must not serialise with TensorRT's work on the legacy
        // default stream.
        let cu = r::stream_create(self.lib(), sys::CU_STREAM_NON_BLOCKING)?;
        Ok(Stream {
            ctx: self.clone(),
            cu_stream: cu,
        })
    }

    /// An event; `timing` allows [`Event::elapsed_ms`] (slightly more costly to record).
    pub fn event(self: &Arc<Self>, timing: bool) -> Result<Event> {
        let _g = self.bind()?;
        let flags = if timing {
            sys::CU_EVENT_DEFAULT
        } else {
            sys::CU_EVENT_DISABLE_TIMING
        };
        let cu = r::event_create(self.lib(), flags)?;
        Ok(Event {
            ctx: self.clone(),
            cu_event: cu,
        })
    }

    /// Synchronous copy of device memory into `dst` (the driver validates `src`).
    pub fn read_device(&self, src: DevicePtr, dst: &mut [u8]) -> Result<()> {
        let _g = self.bind()?;
        r::memcpy_dtoh(self.lib(), dst, src.0)
    }

    /// Synchronous copy from ordinary (pageable) host memory into a device buffer.
    pub fn copy_to_device(&self, dst: &DeviceBuffer, dst_offset: usize, src: &[u8]) -> Result<()> {
        dst.check_range(dst_offset, src.len())?;
        let _g = self.bind()?;
        // SAFETY: `src` is a live host slice; the destination range was checked to lie inside
        // the device allocation.
        unsafe {
            r::memcpy_htod(
                self.lib(),
                dst.cu_ptr + dst_offset as u64,
                src.as_ptr().cast(),
                src.len(),
            )
        }
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: balances the retain in `new`; every resource holding an Arc to us is gone.
        if let Err(e) = unsafe { r::primary_ctx_release(&self.drv.lib, self.cu_dev) } {
            self.drv
                .record_drop_error("releasing the primary context", e);
        }
    }
}

/// Device memory from cuMemAlloc_v2, freed on drop.
pub struct DeviceBuffer {
    ctx: Arc<Context>,
    cu_ptr: u64,
    len: usize,
}

impl DeviceBuffer {
    pub fn ptr(&self) -> DevicePtr {
        DevicePtr(self.cu_ptr)
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Synchronous read-back of `dst.len()` bytes from `offset`.
    pub fn copy_to_host(&self, offset: usize, dst: &mut [u8]) -> Result<()> {
        self.check_range(offset, dst.len())?;
        self.ctx.read_device(self.ptr().offset(offset), dst)
    }
    fn check_range(&self, offset: usize, len: usize) -> Result<()> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(Error::BadInput(format!(
                "device range {offset}+{len} exceeds the {}-byte buffer",
                self.len
            ))),
        }
    }
}

impl Drop for DeviceBuffer {
    fn drop(&mut self) {
        let res = self.ctx.bind().and_then(|_g| {
            // SAFETY: allocated in this context by `Context::alloc`; we are its only owner.
            unsafe { r::mem_free(self.ctx.lib(), self.cu_ptr) }
        });
        if let Err(e) = res {
            self.ctx
                .driver()
                .record_drop_error("freeing device memory", e);
        }
    }
}

/// Tracks the last asynchronous copy that reads a host buffer, so the buffer is neither
/// overwritten nor freed while the device may still be reading it.
struct UseGuard {
    event: Event,
    pending: bool,
}

impl UseGuard {
    fn new(ctx: &Arc<Context>) -> Result<UseGuard> {
        Ok(UseGuard {
            event: ctx.event(false)?,
            pending: false,
        })
    }
    fn wait(&mut self) -> Result<()> {
        if self.pending {
            self.event.synchronize()?;
            self.pending = false;
        }
        Ok(())
    }
}

/// Page-locked host memory from cuMemHostAlloc, freed on drop (after pending copies finish).
pub struct PinnedBuffer {
    ctx: Arc<Context>,
    ptr: *mut u8,
    len: usize,
    guard: UseGuard,
}

// SAFETY: the buffer owns its memory exclusively; `&mut` access waits for pending device
// reads first, and shared access only reads.
unsafe impl Send for PinnedBuffer {}
// SAFETY: as above.
unsafe impl Sync for PinnedBuffer {}

impl PinnedBuffer {
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` is a live allocation of `len` bytes owned by self.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
    /// Waits until no queued copy still reads this buffer, then lends it for writing.
    pub fn as_mut_slice(&mut self) -> Result<&mut [u8]> {
        self.guard.wait()?;
        // SAFETY: as `as_slice`, and `&mut self` plus the wait make this access exclusive.
        Ok(unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) })
    }
    /// The device's address for this memory (only for buffers allocated with `mapped`).
    pub fn device_ptr(&self) -> Result<DevicePtr> {
        let _g = self.ctx.bind()?;
        // SAFETY: `ptr` is live pinned memory owned by self.
        unsafe { r::mem_host_get_device_pointer(self.ctx.lib(), self.ptr.cast()) }.map(DevicePtr)
    }
    /// Cuts the buffer into consecutive pieces of `chunk` bytes (the last one shorter) that
    /// different threads may write at the same time. The memory is freed when the last piece
    /// is dropped. Pending copies are waited for first.
    pub fn into_chunks(mut self, chunk: usize) -> Result<Vec<PinnedChunk>> {
        self.guard.wait()?;
        let (ptr, len, chunk) = (self.ptr, self.len, chunk.max(1));
        let owner = Arc::new(self);
        Ok((0..len)
            .step_by(chunk)
            .map(|o| PinnedChunk {
                _owner: owner.clone(),
                // SAFETY: `o < len`: inside the allocation.
                ptr: unsafe { ptr.add(o) },
                len: chunk.min(len - o),
            })
            .collect())
    }
}

/// One piece of a [`PinnedBuffer`] cut by [`PinnedBuffer::into_chunks`]: the only handle to its
/// bytes. For memory the device reads in place (mapped slots), which several copy threads fill.
pub struct PinnedChunk {
    /// Keeps the allocation alive; its bytes are reached through the pieces only.
    _owner: Arc<PinnedBuffer>,
    ptr: *mut u8,
    len: usize,
}

// SAFETY: pieces are cut disjoint, once, from a buffer given up by value, so each one is the
// only way to its bytes; the shared owner is only kept for freeing the memory.
unsafe impl Send for PinnedChunk {}

impl PinnedChunk {
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: `len` bytes at `ptr` lie inside the live allocation `_owner` holds, and no
        // other piece or handle reaches them (see `into_chunks`); `&mut self` is exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for PinnedBuffer {
    fn drop(&mut self) {
        let res = self.guard.wait().and_then(|()| {
            let _g = self.ctx.bind()?;
            // SAFETY: allocated by cuMemHostAlloc; no copy is pending (waited above).
            unsafe { r::mem_free_host(self.ctx.lib(), self.ptr.cast()) }
        });
        if let Err(e) = res {
            self.ctx
                .driver()
                .record_drop_error("freeing pinned host memory", e);
        }
    }
}

/// Host memory page-locked by cuMemHostRegister_v2 for as long as this value lives; borrows
/// the memory so it cannot be unmapped first. Unregisters on drop, after pending copies.
pub struct HostRegistration<'a> {
    ctx: Arc<Context>,
    ptr: *const u8,
    len: usize,
    guard: UseGuard,
    _borrow: PhantomData<&'a [u8]>,
}

// SAFETY: it only refers to memory borrowed immutably for 'a.
unsafe impl Send for HostRegistration<'_> {}

impl HostRegistration<'_> {
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The device's address of the registered range (unified addressing).
    pub fn device_ptr(&self) -> Result<DevicePtr> {
        let _g = self.ctx.bind()?;
        // SAFETY: the range is registered and borrowed for our lifetime.
        unsafe { r::mem_host_get_device_pointer(self.ctx.lib(), self.ptr as *mut c_void) }
            .map(DevicePtr)
    }
}

impl Drop for HostRegistration<'_> {
    fn drop(&mut self) {
        let res = self.guard.wait().and_then(|()| {
            let _g = self.ctx.bind()?;
            // SAFETY: registered in `register_host`; no copy from it is pending.
            unsafe { r::mem_host_unregister(self.ctx.lib(), self.ptr as *mut c_void) }
        });
        if let Err(e) = res {
            self.ctx
                .driver()
                .record_drop_error("unregistering host memory", e);
        }
    }
}

/// A non-blocking stream, destroyed on drop (after its work finishes).
pub struct Stream {
    ctx: Arc<Context>,
    cu_stream: CUstream,
}

// SAFETY: streams may be used from any thread; the driver serialises submissions.
unsafe impl Send for Stream {}
// SAFETY: as above.
unsafe impl Sync for Stream {}

impl Stream {
    pub fn synchronize(&self) -> Result<()> {
        let _g = self.ctx.bind()?;
        // SAFETY: the handle is live for our lifetime.
        unsafe { r::stream_synchronize(self.ctx.lib(), self.cu_stream) }
    }

    /// Queues a copy of `src[range]` (pinned) into `dst` at `dst_offset`. The buffer cannot be
    /// written or freed until the copy has finished (see [`PinnedBuffer::as_mut_slice`]).
    pub fn copy_pinned(
        &self,
        dst: &DeviceBuffer,
        dst_offset: usize,
        src: &mut PinnedBuffer,
        range: std::ops::Range<usize>,
    ) -> Result<()> {
        // SAFETY: a live pinned allocation of `len` bytes, which stays alive and unwritten
        // while its guard is pending (Drop and `as_mut_slice` wait for it).
        unsafe { self.copy_guarded(dst, dst_offset, src.ptr, src.len, range, &mut src.guard) }
    }

    /// Queues the copies `(dst, dst_offset, src, len)` of each pinned buffer's first `len`
    /// bytes in one driver call (one copy-engine launch), then records each buffer's guard.
    /// Needs [`Context::can_batch_copies`].
    pub fn copy_pinned_batch(
        &self,
        copies: &mut [(&DeviceBuffer, usize, &mut PinnedBuffer, usize)],
    ) -> Result<()> {
        let mut raw = Vec::with_capacity(copies.len());
        let mut spans = Vec::with_capacity(copies.len());
        for (dst, dst_offset, src, len) in copies.iter() {
            check_host_range(&(0..*len), src.len)?;
            dst.check_range(*dst_offset, *len)?;
            let at = dst.cu_ptr + *dst_offset as u64;
            raw.push((at, src.ptr as *const c_void, *len));
            spans.push((at, at + *len as u64));
        }
        spans.sort_unstable();
        if spans.windows(2).any(|w| w[1].0 < w[0].1) {
            return Err(Error::BadInput(
                "internal: two copies of one batch call overlap on the device".into(),
            ));
        }
        let _g = self.ctx.bind()?;
        // SAFETY: every source lies inside its live pinned buffer and every destination inside
        // its device buffer (checked above), the destinations are disjoint, and the buffers stay
        // alive and unwritten while their guards, recorded right after, are pending.
        unsafe {
            r::memcpy_htod_batch_async(
                self.ctx.lib(),
                self.ctx.ordinal() as c_int,
                &raw,
                self.cu_stream,
            )?;
            for (_, _, src, _) in copies.iter_mut() {
                r::event_record(self.ctx.lib(), src.guard.event.cu_event, self.cu_stream)?;
                src.guard.pending = true;
            }
        }
        Ok(())
    }

    /// Queues a copy of `src[range]` straight from registered host memory.
    pub fn copy_registered(
        &self,
        dst: &DeviceBuffer,
        dst_offset: usize,
        src: &mut HostRegistration<'_>,
        range: std::ops::Range<usize>,
    ) -> Result<()> {
        // SAFETY: the source is borrowed for the registration's lifetime, and the
        // registration's Drop waits for its guard before unregistering.
        unsafe { self.copy_guarded(dst, dst_offset, src.ptr, src.len, range, &mut src.guard) }
    }

    /// Queues a copy of `range` of the `len` host bytes at `base` into `dst` at `dst_offset`,
    /// then records `guard`'s event, so that the source's owner can wait for the copy.
    ///
    /// # Safety
    /// `base` points to `len` readable bytes that stay alive and unwritten while `guard` is
    /// pending.
    unsafe fn copy_guarded(
        &self,
        dst: &DeviceBuffer,
        dst_offset: usize,
        base: *const u8,
        len: usize,
        range: std::ops::Range<usize>,
        guard: &mut UseGuard,
    ) -> Result<()> {
        check_host_range(&range, len)?;
        dst.check_range(dst_offset, range.len())?;
        let _g = self.ctx.bind()?;
        // SAFETY: source range checked inside the caller's promised `len` bytes, destination
        // range checked against the device buffer above.
        unsafe {
            r::memcpy_htod_async(
                self.ctx.lib(),
                dst.cu_ptr + dst_offset as u64,
                base.add(range.start).cast(),
                range.len(),
                self.cu_stream,
            )?;
            r::event_record(self.ctx.lib(), guard.event.cu_event, self.cu_stream)?;
        }
        guard.pending = true;
        Ok(())
    }
}

fn check_host_range(range: &std::ops::Range<usize>, len: usize) -> Result<()> {
    if range.start <= range.end && range.end <= len {
        Ok(())
    } else {
        Err(Error::BadInput(format!(
            "host range {range:?} exceeds the {len}-byte buffer"
        )))
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let res = self.ctx.bind().and_then(|_g| {
            // SAFETY: the handle is live and ours; destroy waits for queued work to complete.
            unsafe { r::stream_destroy(self.ctx.lib(), self.cu_stream) }
        });
        if let Err(e) = res {
            self.ctx
                .driver()
                .record_drop_error("destroying a stream", e);
        }
    }
}

/// A CUDA event, destroyed on drop.
pub struct Event {
    ctx: Arc<Context>,
    cu_event: CUevent,
}

// SAFETY: events may be recorded and waited on from any thread.
unsafe impl Send for Event {}
// SAFETY: as above.
unsafe impl Sync for Event {}

impl Event {
    pub fn record(&self, stream: &Stream) -> Result<()> {
        let _g = self.ctx.bind()?;
        // SAFETY: both handles are live and belong to this context.
        unsafe { r::event_record(self.ctx.lib(), self.cu_event, stream.cu_stream) }
    }
    pub fn synchronize(&self) -> Result<()> {
        let _g = self.ctx.bind()?;
        // SAFETY: the handle is live.
        unsafe { r::event_synchronize(self.ctx.lib(), self.cu_event) }
    }
    /// Whether the event has completed (true also when never recorded).
    pub fn query(&self) -> Result<bool> {
        let _g = self.ctx.bind()?;
        // SAFETY: the handle is live.
        unsafe { r::event_query(self.ctx.lib(), self.cu_event) }
    }
    /// Milliseconds between `start` and this event (both recorded, both with timing).
    pub fn elapsed_ms(&self, start: &Event) -> Result<f32> {
        let _g = self.ctx.bind()?;
        // SAFETY: both live; the driver reports NOT_READY or INVALID_HANDLE otherwise.
        unsafe { r::event_elapsed_ms(self.ctx.lib(), start.cu_event, self.cu_event) }
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        let res = self.ctx.bind().and_then(|_g| {
            // SAFETY: the handle is live and ours.
            unsafe { r::event_destroy(self.ctx.lib(), self.cu_event) }
        });
        if let Err(e) = res {
            self.ctx
                .driver()
                .record_drop_error("destroying an event", e);
        }
    }
}
