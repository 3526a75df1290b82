// build.rs: minimal until the C++ shim lands (issue 4).
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
}
