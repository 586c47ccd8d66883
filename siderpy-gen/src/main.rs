//! `siderpy-gen`: regenerates `commands.json` from a live Redis 7+ or
//! Valkey server. Run with `--help` for usage.

#![forbid(unsafe_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use siderpy_gen::{check, connect, fetch, Error, Options, Source};

const USAGE: &str = "\
Regenerates siderpy's commands.json from a live Redis 7+ or Valkey server
(COMMAND and COMMAND DOCS), in the format of Redis's generate-commands-json.py.

Usage: siderpy-gen [OPTIONS]

Options:
  --url URL        server to ask (default redis://localhost:6379/0); any URL the
                   siderpy client accepts: redis://, rediss://, redis+unix://,
                   user:password@, ?protocol=2 to force RESP2 (RESP3 otherwise)
  --output FILE    spec to write or check (default commands.json; - for stdout)
  --source FILE    where to record the server's name and version
                   (default: beside the spec, commands.source.json)
  --merge FILE     a module's published spec (its repository's commands.json):
                   write it completed by what the server reports of those
                   commands (key specs, flags, arity), plus the server's
                   commands with the same prefix that it lacks
  --check          regenerate in memory and exit 1, with a summary of added,
                   removed and changed commands, if the spec on disk differs
  --docs           with --check, also list the commands whose docs alone
                   changed (summary, since...); else they are only counted
  --reply-schema PATH
                   merge reply schemas (which COMMAND DOCS lacks) from a
                   server source tree's src/commands/ directory, or from a
                   JSON file keyed by command name
  --tls-ca FILE    PEM file of CA certificates to verify the server with
                   (turns TLS on)
  --timeout SECS   bound on connecting and on each reply (default 30)
  -h, --help       this text
  -V, --version    the tool's version

Exit status: 0 done or up to date, 1 the spec on disk differs (--check),
2 bad usage or the server could not be asked.";

/// What the command line asked for.
#[derive(Debug)]
struct Cli {
    options: Options,
    output: PathBuf,
    source: Option<PathBuf>,
    merge: Option<PathBuf>,
    check: bool,
    docs: bool,
    reply_schema: Option<PathBuf>,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Cli>, String> {
    let mut cli = Cli {
        options: Options::default(),
        output: PathBuf::from("commands.json"),
        source: None,
        merge: None,
        check: false,
        docs: false,
        reply_schema: None,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value =
            |name: &str| inline.clone().or_else(|| args.next()).ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            "-V" | "--version" => {
                println!("{}", siderpy_gen::GENERATOR);
                return Ok(None);
            }
            "--url" => cli.options.url = value("--url")?,
            "--output" | "-o" => cli.output = PathBuf::from(value("--output")?),
            "--source" => cli.source = Some(PathBuf::from(value("--source")?)),
            "--tls-ca" => cli.options.tls_ca = Some(PathBuf::from(value("--tls-ca")?)),
            "--timeout" => {
                let v = value("--timeout")?;
                let secs: f64 = v
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s > 0.0)
                    .ok_or(format!("--timeout {v}: not a positive number of seconds"))?;
                cli.options.timeout = Duration::from_secs_f64(secs);
            }
            "--merge" => cli.merge = Some(PathBuf::from(value("--merge")?)),
            "--check" => cli.check = true,
            "--docs" => cli.docs = true,
            "--reply-schema" => cli.reply_schema = Some(PathBuf::from(value("--reply-schema")?)),
            _ => return Err(format!("unknown argument `{arg}`")),
        }
    }
    Ok(Some(cli))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = match parse_args(std::env::args().skip(1)) {
        Ok(Some(cli)) => cli,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("siderpy-gen: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("siderpy-gen: {e}");
            // An old server refuses COMMAND DOCS or sends shorter entries.
            let unknown = |r: &siderpy_core::Error| {
                r.as_server_error().is_some_and(|s| s.as_str().to_ascii_lowercase().contains("unknown"))
            };
            if matches!(&e, Error::Redis(r) if unknown(r)) || matches!(e, Error::Shape(_)) {
                eprintln!("siderpy-gen: the server must be Redis 7.0+ or Valkey (COMMAND DOCS and key specs)");
            }
            ExitCode::from(2)
        }
    }
}

async fn run(cli: &Cli) -> Result<ExitCode, Error> {
    let redis = connect(&cli.options)?;
    let mut generated = fetch(&redis).await?;
    redis.close().await;
    if let Some(path) = &cli.reply_schema {
        let schemas = siderpy_gen::schema::load(path)?;
        let n = generated.merge_reply_schemas(&schemas);
        eprintln!("siderpy-gen: merged the reply schemas of {n} commands from {}", path.display());
    }
    if let Some(published) = &cli.merge {
        let text = read(published)?;
        let published: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::Shape(format!("{}: not valid JSON: {e}", published.display())))?;
        generated.spec = siderpy_gen::merge::merge(&published, &generated.spec)?;
        generated.text = siderpy_gen::pyjson::to_string(&generated.spec);
    }
    let to_stdout = cli.output == Path::new("-");
    let source_path = cli.source.clone().unwrap_or_else(|| Source::path_for(&cli.output));
    let commands = generated.spec.as_object().map_or(0, |m| m.len());
    let from = format!("{} {}", generated.source.server, generated.source.version);

    if cli.check {
        let on_disk = read(&cli.output)?;
        let recorded = std::fs::read_to_string(&source_path).ok().as_deref().and_then(Source::parse);
        if let Some(r) = recorded
            .as_ref()
            .filter(|r| (&r.server, &r.version) != (&generated.source.server, &generated.source.version))
        {
            eprintln!(
                "siderpy-gen: note: {} records {} {}, the server is {from}",
                source_path.display(),
                r.server,
                r.version
            );
        }
        return Ok(match check::diff(&on_disk, &generated.spec, &generated.text) {
            None => {
                eprintln!("siderpy-gen: {} is up to date with {from} ({commands} commands)", cli.output.display());
                ExitCode::SUCCESS
            }
            Some(mut diff) => {
                diff.show_docs = cli.docs;
                eprintln!("siderpy-gen: {} differs from what {from} gives: {diff}", cli.output.display());
                eprintln!("siderpy-gen: run without --check to regenerate it");
                ExitCode::from(1)
            }
        });
    }

    if to_stdout {
        // A reader that stops early (`| head`) is not an error.
        return match std::io::stdout().lock().write_all(generated.text.as_bytes()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::Io(PathBuf::from("-"), e)),
            _ => Ok(ExitCode::SUCCESS),
        };
    }
    write(&cli.output, &generated.text)?;
    write(&source_path, &generated.source.to_text())?;
    eprintln!(
        "siderpy-gen: wrote {} ({commands} commands) and {} from {from}",
        cli.output.display(),
        source_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::Io(path.to_owned(), e))
}

/// Writes through a temporary file and a rename, so a build reading the
/// spec meanwhile never sees half of it.
fn write(path: &Path, text: &str) -> Result<(), Error> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path)).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::Io(path.to_owned(), e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Option<Cli>, String> {
        parse_args(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_flags() {
        let cli =
            args(&["--url", "redis://h:1", "--output=x.json", "--check", "--timeout", "2.5", "--reply-schema", "src"])
                .unwrap()
                .unwrap();
        assert_eq!(cli.reply_schema.as_deref(), Some(Path::new("src")));
        assert_eq!(cli.options.url, "redis://h:1");
        assert_eq!(cli.output, Path::new("x.json"));
        assert!(cli.check);
        assert_eq!(cli.options.timeout, Duration::from_millis(2500));
        let cli = args(&[]).unwrap().unwrap();
        assert_eq!((cli.output.to_str(), cli.check, cli.source), (Some("commands.json"), false, None));
    }

    #[test]
    fn rejects_bad_usage() {
        assert!(args(&["--bogus"]).unwrap_err().contains("--bogus"));
        assert!(args(&["--url"]).unwrap_err().contains("needs a value"));
        assert!(args(&["--timeout", "-1"]).is_err());
    }
}
