//! File-change triggers for a local-directory `--repo`: `notify` events, debounced by
//! `notify-debouncer-mini`, become one [`Trigger::Watch`].
//!
//! Input: a directory and a debounce window. Output: requests on the [`TriggerQueue`].
//! It never reads file contents (the next cycle's fetch does) and ignores `.git/`
//! internals and pure access events (the daemon's own reads open every manifest), so a
//! `git status` or a cycle does not start a cycle.
//!
//! The debouncer waits until a changed path has been quiet for the window, per path, and
//! delivers what became quiet in one batch; a path that keeps changing is reported as
//! continuous and is waited for. A batch with a quiet path is one request, and requests
//! coalesce in the queue, so a burst of writes is one cycle.

use std::path::{Component, Path};
use std::sync::Arc;
use std::time::Duration;

use notify::{Event, EventHandler, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use notify_debouncer_mini::{
    new_debouncer_opt, Config, DebounceEventResult, DebouncedEventKind, Debouncer,
};

use super::trigger::{Trigger, TriggerQueue};

/// A running watcher; dropping it stops watching (and the debouncer's thread).
#[derive(Debug)]
pub struct Watch {
    _debouncer: Debouncer<Relevant>,
}

/// Whether an event is a change worth a cycle.
fn is_relevant(event: &Event) -> bool {
    if matches!(event.kind, EventKind::Access(_)) {
        return false;
    }
    event.paths.is_empty()
        || event.paths.iter().any(|p| {
            !p.components()
                .any(|c| c == Component::Normal(".git".as_ref()))
        })
}

/// The platform watcher with [`is_relevant`] in front: the debouncer only sees changes,
/// since its own events no longer say what kind of event they came from.
#[derive(Debug)]
struct Relevant(RecommendedWatcher);

impl Watcher for Relevant {
    fn new<F: EventHandler>(mut handler: F, config: notify::Config) -> notify::Result<Self> {
        let filter = move |res: notify::Result<Event>| match res {
            Ok(event) if !is_relevant(&event) => {}
            other => handler.handle_event(other),
        };
        RecommendedWatcher::new(filter, config).map(Relevant)
    }

    fn watch(&mut self, path: &Path, mode: RecursiveMode) -> notify::Result<()> {
        self.0.watch(path, mode)
    }

    fn unwatch(&mut self, path: &Path) -> notify::Result<()> {
        self.0.unwatch(path)
    }

    fn kind() -> notify::WatcherKind {
        RecommendedWatcher::kind()
    }
}

/// Turns one debounced batch into at most one request: only when some path has been
/// quiet for the window (a continuous one is still changing).
fn forward(queue: &TriggerQueue, batch: DebounceEventResult) {
    match batch {
        Ok(events) => {
            if events.iter().any(|e| e.kind == DebouncedEventKind::Any) {
                tracing::debug!("source files changed");
                queue.request(Trigger::Watch);
            }
        }
        Err(e) => tracing::warn!(error = %e, "file watch error"),
    }
}

/// Watches `root` recursively; after a burst of changes has been quiet for `debounce`,
/// requests one cycle.
///
/// # Errors
/// `notify`'s error when the watcher cannot be created or `root` cannot be watched.
pub fn spawn(
    root: &Path,
    debounce: Duration,
    queue: Arc<TriggerQueue>,
) -> Result<Watch, notify::Error> {
    let config = Config::default()
        .with_timeout(debounce)
        .with_batch_mode(true);
    let mut debouncer = new_debouncer_opt::<_, Relevant>(config, move |batch| {
        forward(&queue, batch);
    })?;
    debouncer.watcher().watch(root, RecursiveMode::Recursive)?;
    Ok(Watch {
        _debouncer: debouncer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, CreateKind, ModifyKind};
    use notify_debouncer_mini::DebouncedEvent;
    use std::path::PathBuf;

    fn ev(kind: EventKind, paths: &[&str]) -> Event {
        let mut e = Event::new(kind);
        for p in paths {
            e = e.add_path(PathBuf::from(p));
        }
        e
    }

    #[test]
    fn git_internals_and_reads_are_ignored() {
        let modify = EventKind::Modify(ModifyKind::Any);
        let cases = [
            (ev(modify, &["/r/purpose/a.yaml"]), true),
            (
                ev(EventKind::Create(CreateKind::File), &["/r/data/x.yaml"]),
                true,
            ),
            (ev(modify, &["/r/.git/index"]), false),
            (ev(modify, &["/r/.git/index", "/r/policy/p.yaml"]), true),
            (
                ev(EventKind::Access(AccessKind::Any), &["/r/purpose/a.yaml"]),
                false,
            ),
            (ev(modify, &[]), true),
        ];
        for (e, want) in cases {
            assert_eq!(is_relevant(&e), want, "{e:?}");
        }
    }

    #[test]
    fn a_batch_requests_a_cycle_only_once_a_path_is_quiet() {
        let quiet = |p: &str| DebouncedEvent::new(PathBuf::from(p), DebouncedEventKind::Any);
        let busy =
            |p: &str| DebouncedEvent::new(PathBuf::from(p), DebouncedEventKind::AnyContinuous);
        let cases: [(DebounceEventResult, bool); 4] = [
            (Ok(vec![busy("/r/a.yaml")]), false),
            (Ok(vec![busy("/r/a.yaml"), quiet("/r/b.yaml")]), true),
            (Ok(vec![quiet("/r/a.yaml"), quiet("/r/b.yaml")]), true),
            (Err(notify::Error::generic("gone")), false),
        ];
        for (batch, want) in cases {
            let q = TriggerQueue::new();
            let text = format!("{batch:?}");
            forward(&q, batch);
            assert_eq!(q.take(), want.then_some(Trigger::Watch), "{text}");
            assert_eq!(q.take(), None, "{text}: at most one request");
        }
    }

    /// Real files and the real debouncer; waits on the queue with a bound, never sleeps.
    #[tokio::test]
    async fn a_burst_of_writes_becomes_a_trigger() {
        let dir = tempfile::tempdir().unwrap();
        // Git internals pass the filter unseen; the writes beside them are one trigger.
        let git = dir.path().join(".git");
        std::fs::create_dir(&git).unwrap();
        let q = TriggerQueue::new();
        let _w = spawn(dir.path(), Duration::from_millis(50), q.clone()).unwrap();
        std::fs::write(git.join("index"), "x").unwrap();
        for i in 0..5 {
            std::fs::write(dir.path().join(format!("f{i}.yaml")), "x").unwrap();
        }
        let t = tokio::time::timeout(Duration::from_secs(10), q.next())
            .await
            .unwrap();
        assert_eq!(t, Trigger::Watch);
    }
}
