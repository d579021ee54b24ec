//! Image references (`[host[:port]/]path[:tag][@digest]`) cut into their
//! parts, for what names, tags and prunes images (`build`, the self image,
//! `deploy`'s image tags). A reference is not validated here.

/// `(repository, tag, digest)` of `image`: `host:5000/torq/node:1@sha256:…`
/// → (`host:5000/torq/node`, `1`, `sha256:…`). A colon is a tag's only after
/// the last `/` (a registry's port is not a tag).
pub(crate) fn split_reference(image: &str) -> (&str, Option<&str>, Option<&str>) {
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[last_slash..].rfind(':') {
        Some(i) => (
            &name[..last_slash + i],
            Some(&name[last_slash + i + 1..]),
            digest,
        ),
        None => (name, None, digest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_splits_into_repository_tag_and_digest() {
        assert_eq!(split_reference("torq/node"), ("torq/node", None, None));
        assert_eq!(
            split_reference("host:5000/torq/node:1"),
            ("host:5000/torq/node", Some("1"), None)
        );
        assert_eq!(
            split_reference("busybox:1@sha256:abc"),
            ("busybox", Some("1"), Some("sha256:abc"))
        );
        assert_eq!(
            split_reference("host:5000/node@sha256:abc"),
            ("host:5000/node", None, Some("sha256:abc"))
        );
    }
}
