//! Which verified webhook deliveries start a cycle: only pushes to the followed branch
//! (or tag). Everything else is answered without queueing anything.
//!
//! Input: the event header (GitHub's `X-GitHub-Event`, GitLab's `X-Gitlab-Event`), the
//! raw body (already authenticated by [`super::webhook`]) and what the daemon follows.
//! Output: a [`Route`]. Pure: no I/O, no state.
//!
//! | delivery | route |
//! |---|---|
//! | GitHub `ping` | [`Route::Ping`] (200, no cycle) |
//! | GitHub `push`, GitLab `Push Hook` / `Tag Push Hook`, `ref` = the followed ref | [`Route::Cycle`] |
//! | the same to another ref | [`Route::Ignored`] (202 "ignored") |
//! | any other event (`pull_request`, `Merge Request Hook`, …) | [`Route::Ignored`] |
//! | a push whose body is not a JSON object with a string `ref` | [`Route::BadBody`] (400) |
//!
//! The followed ref is `--ref` as Git resolves it (`main` matches `refs/heads/main` and
//! `refs/tags/main`; `refs/…` matches itself). Without `--ref` (or with `HEAD`) it is the
//! repository's default branch, which both providers send in the push payload
//! (`repository.default_branch`, `project.default_branch`). A `--ref` that is a commit
//! id never moves, so no push matches it. A local directory `--repo` has no branch to
//! compare: every push matches.

use serde_json::Value;

/// GitHub's event-name header.
pub const GITHUB_EVENT_HEADER: &str = "x-github-event";
/// GitLab's event-name header.
pub const GITLAB_EVENT_HEADER: &str = "x-gitlab-event";

/// What the daemon follows, for comparing with a push's `ref`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Follow {
    /// A local directory: any push may have changed it.
    AnyPush,
    /// The repository's default branch (no `--ref`, or `HEAD`).
    DefaultBranch,
    /// `--ref` as given.
    Ref(String),
}

impl Follow {
    /// What a source spec follows: `remote` is whether `--repo` is a Git URL.
    pub fn of(remote: bool, reference: Option<&str>) -> Follow {
        match reference {
            _ if !remote && reference.is_none() => Follow::AnyPush,
            None | Some("HEAD") => Follow::DefaultBranch,
            Some(r) => Follow::Ref(r.to_string()),
        }
    }

    /// Whether a push to `pushed` (a full ref such as `refs/heads/main`) moves what is
    /// followed. `default_branch` is the payload's default branch name, when it has one.
    pub fn matches(&self, pushed: &str, default_branch: Option<&str>) -> bool {
        match self {
            Follow::AnyPush => true,
            Follow::DefaultBranch => {
                default_branch.is_some_and(|b| pushed.strip_prefix("refs/heads/") == Some(b))
            }
            Follow::Ref(r) if r.starts_with("refs/") => pushed == r,
            Follow::Ref(r) => {
                pushed.strip_prefix("refs/heads/") == Some(r.as_str())
                    || pushed.strip_prefix("refs/tags/") == Some(r.as_str())
            }
        }
    }
}

/// What to do with one authenticated delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// GitHub's `ping` (sent when a webhook is created): answer 200, run nothing.
    Ping,
    /// A push to the followed ref: queue a cycle.
    Cycle,
    /// Anything else: answer 202 with this reason, run nothing.
    Ignored(String),
    /// A push event whose body cannot be read as one: answer 400.
    BadBody(&'static str),
}

/// Routes a delivery. `github_event` / `gitlab_event` are the raw event headers.
/// A delivery naming no event is treated as a push (a hand-made `curl` with the secret),
/// so its body's `ref` still decides.
pub fn route(
    github_event: Option<&[u8]>,
    gitlab_event: Option<&[u8]>,
    body: &[u8],
    follow: &Follow,
) -> Route {
    let event = github_event.or(gitlab_event).map(String::from_utf8_lossy);
    match event.as_deref() {
        Some("ping") if github_event.is_some() => return Route::Ping,
        None | Some("push" | "Push Hook" | "Tag Push Hook") => {}
        Some(other) => {
            return Route::Ignored(format!(
                "event {} does not move a branch",
                crate::terminal::escape(other)
            ))
        }
    }
    let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(body) else {
        return Route::BadBody(
            "the body is not a JSON object (set the webhook's content type to application/json)",
        );
    };
    let Some(pushed) = doc.get("ref").and_then(Value::as_str) else {
        return Route::BadBody("the push event has no \"ref\"");
    };
    let default_branch = ["repository", "project"]
        .iter()
        .find_map(|k| doc.get(*k)?.get("default_branch")?.as_str());
    if follow.matches(pushed, default_branch) {
        Route::Cycle
    } else {
        Route::Ignored(format!(
            "push to {} is not the followed ref",
            crate::terminal::escape(pushed)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GH_PUSH: &[u8] =
        br#"{"ref":"refs/heads/main","repository":{"default_branch":"main"},"after":"0"}"#;
    const GH_PUSH_OTHER: &[u8] =
        br#"{"ref":"refs/heads/feature","repository":{"default_branch":"main"}}"#;
    const GL_PUSH: &[u8] =
        br#"{"object_kind":"push","ref":"refs/heads/main","project":{"default_branch":"main"}}"#;
    const GL_TAG: &[u8] =
        br#"{"object_kind":"tag_push","ref":"refs/tags/v1","project":{"default_branch":"main"}}"#;

    fn gh(event: &str, body: &[u8], f: &Follow) -> Route {
        route(Some(event.as_bytes()), None, body, f)
    }

    fn gl(event: &str, body: &[u8], f: &Follow) -> Route {
        route(None, Some(event.as_bytes()), body, f)
    }

    #[test]
    fn only_pushes_to_the_followed_ref_start_a_cycle() {
        let main = Follow::Ref("main".into());
        assert_eq!(gh("push", GH_PUSH, &main), Route::Cycle);
        assert!(
            matches!(gh("push", GH_PUSH_OTHER, &main), Route::Ignored(r) if r.contains("refs/heads/feature"))
        );
        assert_eq!(gl("Push Hook", GL_PUSH, &main), Route::Cycle);
        assert!(matches!(
            gl("Tag Push Hook", GL_TAG, &main),
            Route::Ignored(_)
        ));
        assert_eq!(
            gl("Tag Push Hook", GL_TAG, &Follow::Ref("v1".into())),
            Route::Cycle
        );
        assert_eq!(
            gh("push", GH_PUSH, &Follow::Ref("refs/heads/main".into())),
            Route::Cycle
        );
        assert!(matches!(
            gh("push", GH_PUSH, &Follow::Ref("refs/heads/mai".into())),
            Route::Ignored(_)
        ));
        // A pinned commit never moves.
        let sha = Follow::Ref("0123456789abcdef0123456789abcdef01234567".into());
        assert!(matches!(gh("push", GH_PUSH, &sha), Route::Ignored(_)));
    }

    #[test]
    fn the_default_branch_comes_from_the_payload() {
        let d = Follow::of(true, None);
        assert_eq!(d, Follow::DefaultBranch);
        assert_eq!(Follow::of(true, Some("HEAD")), Follow::DefaultBranch);
        assert_eq!(gh("push", GH_PUSH, &d), Route::Cycle);
        assert_eq!(gl("Push Hook", GL_PUSH, &d), Route::Cycle);
        assert!(matches!(gh("push", GH_PUSH_OTHER, &d), Route::Ignored(_)));
        // No default branch in the payload: nothing to compare with, so nothing runs.
        assert!(matches!(
            gh("push", br#"{"ref":"refs/heads/main"}"#, &d),
            Route::Ignored(_)
        ));
        // A local directory follows every push.
        let local = Follow::of(false, None);
        assert_eq!(local, Follow::AnyPush);
        assert_eq!(gh("push", GH_PUSH_OTHER, &local), Route::Cycle);
    }

    #[test]
    fn ping_other_events_and_bad_bodies() {
        let main = Follow::Ref("main".into());
        assert_eq!(
            gh("ping", br#"{"zen":"Keep it logically awesome."}"#, &main),
            Route::Ping
        );
        for e in ["pull_request", "issues", "create"] {
            assert!(matches!(gh(e, GH_PUSH, &main), Route::Ignored(_)), "{e}");
        }
        assert!(matches!(
            gl("Merge Request Hook", GL_PUSH, &main),
            Route::Ignored(_)
        ));
        // GitLab has no ping event: its name is just another event.
        assert!(matches!(gl("ping", GL_PUSH, &main), Route::Ignored(_)));
        // The event name is escaped before it reaches a response or a log.
        assert!(
            matches!(gh("x\u{1b}[2J", GH_PUSH, &main), Route::Ignored(r) if !r.contains('\u{1b}'))
        );
        assert!(matches!(
            gh("push", b"payload=%7B%7D", &main),
            Route::BadBody(_)
        ));
        assert!(matches!(gh("push", b"[]", &main), Route::BadBody(_)));
        assert!(matches!(
            gh("push", br#"{"ref":1}"#, &main),
            Route::BadBody(_)
        ));
        // No event header: the body's ref decides.
        assert_eq!(route(None, None, GH_PUSH, &main), Route::Cycle);
        assert!(matches!(
            route(None, None, GH_PUSH_OTHER, &main),
            Route::Ignored(_)
        ));
    }
}
