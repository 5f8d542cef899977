//! The terminal a command runs in, decided once at start (issue 14): whether stdout and
//! stderr may be coloured, whether a person is there to approve an apply, whether
//! progress may be drawn. Then the approval prompt, the live-read spinner and the apply
//! progress bar, which also streams each object's line as it lands.
//!
//! - Colour: [`immuta_gitops::terminal::colour`] decides per stream.
//! - The prompt is shown only when stdin, stdout and stderr are all terminals: in CI, in
//!   a script and in the daemon `--apply` alone means apply.
//! - Progress is drawn on stderr only when stderr is a terminal (indicatif hides it
//!   otherwise); stdout keeps only the plan and the results, so it can be piped.

use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use immuta_gitops::apply::{ObjectResult, Observer};
use immuta_gitops::client::Client;
use immuta_gitops::config;
use immuta_gitops::object::Kind;
use immuta_gitops::terminal::colour::{output_colour, ColourChoice, Palette};

/// The longest approval answer read from stdin; anything longer is not `yes`.
const MAX_ANSWER_BYTES: u64 = 1024;

/// How often the live-read spinner redraws.
const TICK: Duration = Duration::from_millis(100);

/// What the command knows about its terminal.
#[derive(Debug, Clone, Copy)]
pub struct Tty {
    /// Colour of stdout (the plan, the apply results).
    pub out: Palette,
    /// Colour of stderr (warnings, errors).
    pub err: Palette,
    /// stdin, stdout and stderr are terminals: a person reads the plan and can answer.
    pub interactive: bool,
    /// stderr is a terminal: progress may be drawn there.
    pub progress: bool,
}

impl Tty {
    /// Looks at the three standard streams and the colour environment.
    pub fn detect(choice: ColourChoice) -> Tty {
        let env = config::colour_env();
        let (stdin, stdout, stderr) = (
            io::stdin().is_terminal(),
            io::stdout().is_terminal(),
            io::stderr().is_terminal(),
        );
        Tty {
            out: Palette::new(output_colour(choice, env, stdout)),
            err: Palette::new(output_colour(choice, env, stderr)),
            interactive: stdin && stdout && stderr,
            progress: stderr,
        }
    }

    /// Prints one message line on stderr, coloured as stderr allows.
    pub fn eprintln(&self, line: &str) {
        eprintln!("{}", self.err.lines(line));
    }

    fn target(&self) -> ProgressDrawTarget {
        if self.progress {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        }
    }
}

/// Asks on stderr whether to apply and reads one line from stdin; true only for `yes`.
/// End of input, a line that is not UTF-8 or anything else means no.
///
/// # Errors
/// I/O errors of stderr or stdin.
pub async fn approve(tty: Tty) -> anyhow::Result<bool> {
    let answer = tokio::task::spawn_blocking(move || -> io::Result<bool> {
        let mut err = io::stderr().lock();
        writeln!(
            err,
            "{}",
            tty.err.line(
                "Do you want to apply these changes? Only 'yes' will be accepted to approve."
            )
        )?;
        writeln!(err)?;
        write!(err, "  Enter a value: ")?;
        err.flush()?;
        let mut line = String::new();
        let read = io::stdin()
            .lock()
            .take(MAX_ANSWER_BYTES)
            .read_line(&mut line);
        writeln!(err)?;
        match read {
            Ok(_) => Ok(line.trim() == "yes"),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => Ok(false),
            Err(e) => Err(e),
        }
    })
    .await??;
    Ok(answer)
}

/// The spinner shown while the source is fetched and the live state read: the requests
/// sent so far and the time elapsed. Finishes with one line that stays on stderr. Off a
/// terminal it is nothing at all: no bar, no ticking thread, no task.
pub struct Reading {
    shown: Option<(ProgressBar, tokio::task::JoinHandle<()>)>,
}

impl Reading {
    /// Starts the spinner on a terminal, counting `client`'s requests.
    pub fn start(tty: Tty, client: &Client) -> Reading {
        if !tty.progress {
            return Reading { shown: None };
        }
        let bar = ProgressBar::with_draw_target(None, tty.target());
        bar.set_style(style("{spinner} Reading the live state: {msg} ({elapsed})"));
        bar.set_message("0 requests");
        bar.enable_steady_tick(TICK);
        let (b, client) = (bar.clone(), client.clone());
        let ticker = tokio::spawn(async move {
            let mut every = tokio::time::interval(TICK);
            loop {
                every.tick().await;
                b.set_message(format!("{} requests", client.stats().total()));
            }
        });
        Reading {
            shown: Some((bar, ticker)),
        }
    }

    /// Stops the spinner, leaving `Read the live state: N requests (elapsed)`.
    pub fn finish(mut self, client: &Client) {
        if let Some((bar, ticker)) = self.shown.take() {
            ticker.abort();
            bar.set_style(style("Read the live state: {msg} ({elapsed})"));
            bar.finish_with_message(format!("{} requests", client.stats().total()));
        }
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        if let Some((bar, ticker)) = self.shown.take() {
            ticker.abort();
            bar.finish_and_clear();
        }
    }
}

/// The apply's [`Observer`]: a bar of objects done / total with the current level and
/// the time elapsed on stderr, and each object's line on stdout the moment it lands.
pub struct Applying {
    bar: ProgressBar,
    /// Stream each line to stdout (off for JSON output, which prints one document).
    stream: bool,
    palette: Palette,
    /// The first error writing stdout (a closed pipe): reported after the apply.
    error: Mutex<Option<io::Error>>,
}

impl Applying {
    /// A bar for `total` objects (hidden off a terminal).
    pub fn start(tty: Tty, total: usize, stream: bool) -> Applying {
        let bar = ProgressBar::with_draw_target(
            Some(u64::try_from(total).unwrap_or(u64::MAX)),
            tty.target(),
        );
        bar.set_style(style(
            "Applying [{bar:30}] {pos}/{len} objects, {msg} ({elapsed})",
        ));
        bar.set_message("starting");
        Applying {
            bar,
            stream,
            palette: tty.out,
            error: Mutex::new(None),
        }
    }

    /// Stops the bar, leaving `Applied N/M objects (elapsed)` on stderr.
    ///
    /// # Errors
    /// The first error writing a streamed line to stdout.
    pub fn finish(self) -> io::Result<()> {
        self.bar
            .set_style(style("Applied {pos}/{len} objects ({elapsed})"));
        self.bar.finish();
        match self.error.lock().map(|mut e| e.take()) {
            Ok(Some(e)) => Err(e),
            _ => Ok(()),
        }
    }

    fn write_line(&self, r: &ObjectResult) -> io::Result<()> {
        let mut buf = Vec::new();
        r.render_line(&mut buf)?;
        let text = String::from_utf8_lossy(&buf);
        let mut out = io::stdout().lock();
        out.write_all(self.palette.lines(&text).as_bytes())?;
        out.flush()
    }
}

impl Observer for Applying {
    fn level(&self, kind: Kind, deleting: bool) {
        self.bar.set_message(if deleting {
            format!("deleting: {kind}")
        } else {
            format!("level: {kind}")
        });
    }

    fn landed(&self, result: &ObjectResult) {
        if self.stream {
            let written = self.bar.suspend(|| self.write_line(result));
            if let (Err(e), Ok(mut first)) = (written, self.error.lock()) {
                first.get_or_insert(e);
            }
        }
        self.bar.inc(1);
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}
