//! File-change triggers for a local-directory `--repo`: `notify` events, debounced, become
//! one [`Trigger::Watch`].
//!
//! Input: a directory and a debounce window. Output: requests on the [`TriggerQueue`].
//! It never reads file contents (the next cycle's fetch does) and ignores `.git/`
//! internals and pure access events, so a `git status` does not start a cycle.

use std::path::{Component, Path};
use std::sync::Arc;
use std::time::Duration;

use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::trigger::{Trigger, TriggerQueue};

/// A running watcher; dropping it stops watching.
#[derive(Debug)]
pub struct Watch {
    _watcher: RecommendedWatcher,
    task: JoinHandle<()>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
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
    let (tx, rx) = mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<Event>| match res {
        Ok(event) if is_relevant(&event) => {
            let _ = tx.send(());
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "file watch error"),
    })?;
    watcher.watch(root, RecursiveMode::Recursive)?;
    let task = tokio::spawn(debounce_loop(rx, debounce, queue));
    Ok(Watch {
        _watcher: watcher,
        task,
    })
}

async fn debounce_loop(
    mut rx: mpsc::UnboundedReceiver<()>,
    debounce: Duration,
    queue: Arc<TriggerQueue>,
) {
    loop {
        if rx.recv().await.is_none() {
            return;
        }
        loop {
            match tokio::time::timeout(debounce, rx.recv()).await {
                Ok(Some(())) => continue,
                Ok(None) => return,
                Err(_) => break,
            }
        }
        tracing::debug!("source files changed");
        if !queue.request(Trigger::Watch) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, CreateKind, ModifyKind};
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

    #[tokio::test]
    async fn a_burst_of_writes_becomes_a_trigger() {
        let dir = tempfile::tempdir().unwrap();
        let q = TriggerQueue::new();
        let _w = spawn(dir.path(), Duration::from_millis(50), q.clone()).unwrap();
        for i in 0..5 {
            std::fs::write(dir.path().join(format!("f{i}.yaml")), "x").unwrap();
        }
        let t = tokio::time::timeout(Duration::from_secs(10), q.next())
            .await
            .unwrap();
        assert_eq!(t, Trigger::Watch);
    }
}
