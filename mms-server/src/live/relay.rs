pub(crate) fn run(_: &str, _: &str, _: &mut dyn super::source::Sink) -> Result<(), String> { Err("tmp".into()) }
