//! Scripted detours before a request is handled: a redirect to another origin (to prove that
//! nothing carrying a secret or a body follows it) and a login service that hangs.

use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;

use super::reply::Reply;
use super::state::{Fault, RedirectOn, Shared};

/// The redirect scripted for this request, if any (consumed).
pub(crate) fn redirect(
    shared: &Arc<Shared>,
    method: &Method,
    path: &str,
    token: bool,
) -> Option<Reply> {
    if method != Method::POST {
        return None;
    }
    let create_for = create_mailbox(path);
    let fault = shared.lock().take_fault(|f| match f {
        Fault::Redirect {
            on: RedirectOn::Token,
            ..
        } => token,
        Fault::Redirect {
            on: RedirectOn::Create { mailbox },
            ..
        } => create_for
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case(mailbox)),
        _ => false,
    })?;
    let Fault::Redirect {
        status, location, ..
    } = fault
    else {
        return None;
    };
    Some(Reply {
        status,
        headers: vec![("Location".into(), location)],
        body: None,
    })
}

/// The mailbox of `POST /v1.0/users/{u}/events` or `…/calendar/events`.
fn create_mailbox(path: &str) -> Option<String> {
    let canonical = super::user_path::canonical(path.strip_prefix("/v1.0")?).ok()?;
    let segments: Vec<&str> = canonical.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        [users, user, rest @ ..]
            if users.eq_ignore_ascii_case("users")
                && matches!(rest, [e] | [_, e] if e.eq_ignore_ascii_case("events")) =>
        {
            Some(
                percent_encoding::percent_decode_str(user)
                    .decode_utf8_lossy()
                    .into_owned(),
            )
        }
        _ => None,
    }
}

/// How long this token request is held before it is answered (consumes one stall).
pub(crate) fn login_stall(shared: &Arc<Shared>) -> Option<Duration> {
    let mut inner = shared.lock();
    let fault = inner.take_fault(|f| matches!(f, Fault::TokenStall { count, .. } if *count > 0))?;
    let Fault::TokenStall { count, duration } = fault else {
        return None;
    };
    if count > 1 {
        inner.faults.insert(
            0,
            Fault::TokenStall {
                count: count - 1,
                duration,
            },
        );
    }
    Some(duration)
}
