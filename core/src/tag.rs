//! The tag grammar that ECR and the OCI Distribution spec share:
//! at most 128 characters of `[A-Za-z0-9_][A-Za-z0-9_.-]*`.

/// The longest tag ECR and OCI registries accept, in characters (all ASCII, so bytes too).
pub const MAX_TAG_LENGTH: usize = 128;

/// Why a string cannot be a tag at all, whatever the policy says; `None` for a valid tag.
pub fn grammar_violation(tag: &str) -> Option<String> {
    let bytes = tag.as_bytes();
    let first = match bytes.first() {
        None => return Some("the tag is empty".into()),
        Some(first) => *first,
    };
    if bytes.len() > MAX_TAG_LENGTH {
        return Some(format!(
            "the tag is {} characters long; ECR and OCI allow at most {MAX_TAG_LENGTH}",
            tag.chars().count()
        ));
    }
    if !is_tag_start(first) {
        return Some(format!(
            "a tag must start with a letter, digit or '_', not {:?}",
            tag.chars().next().unwrap_or_default()
        ));
    }
    if tag.contains('+') {
        return Some(
            "'+' is not allowed in a tag: SemVer build metadata (1.2.3+build) cannot be a tag; CI tools write it with '-' or drop it".into(),
        );
    }
    if let Some(bad) = tag
        .chars()
        .find(|c| !c.is_ascii() || !is_tag_byte(*c as u8))
    {
        return Some(format!(
            "{bad:?} is not allowed in a tag; use letters, digits, '_', '.' and '-'"
        ));
    }
    None
}

/// True for a string that can begin a tag and is made of tag characters (or is empty).
pub fn is_valid_fragment(text: &str) -> bool {
    text.is_empty() || grammar_violation(text).is_none()
}

fn is_tag_start(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

fn is_tag_byte(byte: u8) -> bool {
    is_tag_start(byte) || byte == b'.' || byte == b'-'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_grammar() {
        for tag in ["latest", "1.2.3", "_x", "A-b.c_d", &"a".repeat(128)] {
            assert_eq!(grammar_violation(tag), None, "{tag}");
        }
    }

    #[test]
    fn names_what_is_wrong() {
        let cases = [
            ("", "empty"),
            (".hidden", "must start"),
            ("-x", "must start"),
            ("a/b", "'/' is not allowed"),
            ("a:b", "':' is not allowed"),
            ("1.2.3+build", "build metadata"),
            ("é", "must start"),
            ("aé", "'é' is not allowed"),
        ];
        for (tag, expected) in cases {
            let message = grammar_violation(tag).expect("a violation");
            assert!(message.contains(expected), "{tag:?}: {message}");
        }
        let long = "a".repeat(129);
        assert!(grammar_violation(&long)
            .expect("too long")
            .contains("129 characters"));
    }
}
