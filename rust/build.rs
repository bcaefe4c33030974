fn main() {
    // `cargo test` links libpython (no `extension-module` feature); embed its
    // directory as an rpath so the test binaries find it at run time.
    pyo3_build_config::add_libpython_rpath_link_args();
}
