pub(crate) fn run(
    _: &str,
    _: &[std::path::PathBuf],
    _: bool,
    _: &mut dyn super::source::Sink,
) -> Result<(), String> {
    Err("tmp".into())
}
