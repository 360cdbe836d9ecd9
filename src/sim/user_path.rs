//! The two ways a Graph path names a user. `/users/{id}` is the usual one; a userPrincipalName
//! beginning with `$` must be written `/users('{id}')`, because `/users/$x@y.com` "violates the
//! OData URL convention, which expects only system query options to be prefixed with a `$`
//! character" and fails with 400 (Graph docs: api-reference/v1.0/api/user-get.md).

use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use super::reply::{ApiError, Reply};

/// `path` (relative to `/v1.0`) in the `/users/{id}/…` form, the id percent-encoded; a 400
/// for a `$` id written without the parentheses.
pub(crate) fn canonical(path: &str) -> Result<String, Reply> {
    let trimmed = path.trim_start_matches('/');
    let (head, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    if head.len() > 6 && head[..6].eq_ignore_ascii_case("users(") && head.ends_with(')') {
        let quoted = percent_decode_str(&head[6..head.len() - 1])
            .decode_utf8_lossy()
            .into_owned();
        let Some(inner) = quoted.strip_prefix('\'').and_then(|q| q.strip_suffix('\'')) else {
            return Err(refuse(&format!(
                "The key in '{head}' must be a quoted string."
            )));
        };
        let id = inner.replace("''", "'");
        let encoded = utf8_percent_encode(&id, NON_ALPHANUMERIC).to_string();
        return Ok(format!("/users/{encoded}/{rest}"));
    }
    if head.eq_ignore_ascii_case("users") {
        let id = rest.split('/').next().unwrap_or("");
        if percent_decode_str(id).decode_utf8_lossy().starts_with('$') {
            return Err(refuse(&format!(
                "Invalid request: '{}' in the resource path is read as a system query option; address a user whose name begins with '$' as users('{{id}}').",
                percent_decode_str(id).decode_utf8_lossy()
            )));
        }
    }
    Ok(path.to_string())
}

/// The segment that names `raw_user` (percent-encoded) in links the simulator writes.
pub(crate) fn link_segment(raw_user: &str) -> String {
    let user = percent_decode_str(raw_user).decode_utf8_lossy();
    if user.starts_with('$') {
        format!(
            "users('{}')",
            utf8_percent_encode(&user.replace('\'', "''"), NON_ALPHANUMERIC)
        )
    } else {
        format!("users/{raw_user}")
    }
}

fn refuse(message: &str) -> Reply {
    Reply::error(ApiError::new(400, "BadRequest", message))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Graph docs: api-reference/v1.0/api/user-get.md — `/users('$AdeleVance@contoso.com')`.
    #[test]
    fn a_dollar_upn_is_addressed_only_in_parentheses() {
        assert_eq!(
            canonical("/users('%24adele@contoso.com')/calendar/events").ok(),
            Some("/users/%24adele%40contoso%2Ecom/calendar/events".to_string())
        );
        assert!(canonical("/users/%24adele@contoso.com/calendar/events").is_err());
        assert!(canonical("/users/$adele@contoso.com/events/x").is_err());
        assert_eq!(
            canonical("/users/ann@contoso.com/events").ok(),
            Some("/users/ann@contoso.com/events".to_string())
        );
        assert_eq!(
            link_segment("%24adele%40contoso.com"),
            "users('%24adele%40contoso%2Ecom')"
        );
    }
}
