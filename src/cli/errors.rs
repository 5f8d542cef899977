//! How an error reaches the terminal: escaped, invalid manifests one diagnostic per line,
//! anything else as one line of causes.

use immuta_gitops::client::Client;
use immuta_gitops::cycle;
use immuta_gitops::manifest::Severity;
use immuta_gitops::terminal::escape;

/// A 401 while reading live state, said in terms of the flags that fix it.
pub fn explain(e: cycle::Error, client: &Client) -> anyhow::Error {
    if e.is_unauthorized() {
        return anyhow::anyhow!(
            "Immuta at {} rejected the API key (401): check IMMUTA_API_KEY or --api-key-file",
            client.base_url()
        );
    }
    anyhow::Error::new(e)
}

pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

/// The error as printed on stderr, escaped for the terminal: invalid manifests one
/// diagnostic per line (each escaped on its own), anything else on one line.
pub fn render(e: &anyhow::Error) -> String {
    let manifest = e
        .chain()
        .find_map(|c| match c.downcast_ref::<cycle::Error>() {
            Some(cycle::Error::Manifest(diags)) => Some(diags),
            _ => None,
        });
    if let Some(diags) = manifest {
        let errors = diags
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        let mut out = format!("{errors} invalid manifest(s):");
        for d in diags {
            out.push('\n');
            out.push_str(&escape(&d.to_string()));
        }
        return out;
    }
    escape(&chain(e)).into_owned()
}

/// The error and its causes on one line, `outer: cause: cause`. A cause whose text the
/// message already holds (errors that print their source themselves) is not repeated.
pub fn chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}
