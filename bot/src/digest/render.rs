//! The digest's plain-text and HTML bodies, from templates. The HTML template escapes every
//! interpolated value (minijinja auto-escapes templates named `*.html`), so a patch named
//! `<script>…</script>.patch` is shown, never run.

use super::Digest;
use minijinja::{Environment, context};

/// The Content-ID of the chart image the HTML refers to.
pub const CHART_CID: &str = "debt-chart@forkdebt";

fn env() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.add_template("digest.txt", include_str!("../../templates/digest.txt"))?;
    env.add_template("digest.html", include_str!("../../templates/digest.html"))?;
    Ok(env)
}

/// The plain-text body.
///
/// # Errors
/// A template error (a bug: the templates are compiled in and tested).
pub fn plain(d: &Digest) -> Result<String, minijinja::Error> {
    env()?.get_template("digest.txt")?.render(d)
}

/// The HTML body; the chart is `cid:` [`CHART_CID`].
///
/// # Errors
/// A template error.
pub fn html(d: &Digest) -> Result<String, minijinja::Error> {
    env()?
        .get_template("digest.html")?
        .render(context! { chart_cid => CHART_CID, ..minijinja::Value::from_serialize(d) })
}
