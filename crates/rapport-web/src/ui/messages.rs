//! Messages carried by a redirect to the page it leads to (`?error=`, `?notice=`), signed for
//! the session that acted, so that a link made by someone else cannot put words of its own in
//! the site's banners (content spoofing).

use super::{form, Ctx};

/// `to` carrying a message for the page it leads to (`key` is `error` or `notice`), signed for
/// this session: [`message`] shows it only with its signature, so a link made by someone else
/// cannot put words of its own in the site's banners. A `#fragment` of `to` stays last.
pub fn with_message(to: &str, ctx: &Ctx, key: &str, text: &str) -> String {
    let (path, fragment) = match to.split_once('#') {
        Some((p, f)) => (p, format!("#{f}")),
        None => (to, String::new()),
    };
    let sep = if path.contains('?') { '&' } else { '?' };
    format!(
        "{path}{sep}{key}={}&{key}_sig={}{fragment}",
        form::urlencode(text),
        message_sig(&ctx.csrf, key, text)
    )
}

/// The message `key` a redirect made by [`with_message`] carries, if its signature holds for
/// this session; anything else in the URL is ignored.
pub fn message(q: &[(String, String)], ctx: &Ctx, key: &str) -> Option<String> {
    let text = form::field(q, key);
    if text.is_empty() {
        return None;
    }
    let sent = form::field(q, &format!("{key}_sig"));
    let want = message_sig(&ctx.csrf, key, &text);
    // Compared in constant time: a signature is a secret of the session.
    let same = sent.len() == want.len()
        && sent
            .bytes()
            .zip(want.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    same.then_some(text)
}

/// The signature of message `text` under `key` for the session whose CSRF token is `csrf`
/// (itself a secret derived from the session token).
fn message_sig(csrf: &str, key: &str, text: &str) -> String {
    rapport_auth::token::hash_token(&format!("message:{csrf}:{key}:{text}"))[..32].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::i18n::Lang;

    fn ctx(csrf: &str) -> Ctx {
        Ctx {
            lang: Lang::Zh,
            user: None,
            csrf: csrf.into(),
            is_admin: false,
            path: "/".into(),
            section: "",
            search: String::new(),
            asset_version: "",
            viewing_as: None,
            unread: 0,
        }
    }

    fn query(url: &str) -> Vec<(String, String)> {
        let q = url.split_once('?').map_or("", |(_, q)| q);
        let q = q.split('#').next().unwrap_or_default();
        serde_urlencoded::from_str(q).unwrap()
    }

    #[test]
    fn a_message_shows_only_with_its_sessions_signature() {
        let mine = ctx("a".repeat(32).as_str());
        let url = with_message("/duplicates?object=accounts", &mine, "notice", "合并已撤销");
        assert_eq!(
            message(&query(&url), &mine, "notice").as_deref(),
            Some("合并已撤销")
        );
        // Another session (the link sent to someone), another key, a changed text: nothing.
        let theirs = ctx("b".repeat(32).as_str());
        assert_eq!(message(&query(&url), &theirs, "notice"), None);
        assert_eq!(message(&query(&url), &mine, "error"), None);
        let forged = url.replace("%E5%90%88", "%E5%88%AB");
        assert_ne!(forged, url);
        assert_eq!(message(&query(&forged), &mine, "notice"), None);
        // Text without a signature, as a link would carry it.
        let bare = vec![("notice".to_string(), "请致电 400-000-0000".to_string())];
        assert_eq!(message(&bare, &mine, "notice"), None);
    }

    #[test]
    fn the_fragment_stays_last() {
        let c = ctx("c".repeat(32).as_str());
        let url = with_message("/admin/sales#pool", &c, "error", "x");
        assert!(url.starts_with("/admin/sales?error=x&error_sig="), "{url}");
        assert!(url.ends_with("#pool"), "{url}");
        assert_eq!(message(&query(&url), &c, "error").as_deref(), Some("x"));
    }
}
