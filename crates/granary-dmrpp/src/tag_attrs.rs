//! The attributes of one XML start tag, read once and looked up by local name without
//! allocating (XML 1.0 section 3.1 "Start-Tags", section 3.3.3 "Attribute-Value Normalization").
//!
//! A value is kept as a span of the tag's own text; only a value that normalization changes
//! (an entity or character reference, a tab or a line break) is copied. The buffers are reused
//! from one tag to the next, so parsing a document allocates nothing per attribute.

use std::ops::Range;

use quick_xml::XmlVersion;
use quick_xml::events::BytesStart;

use crate::DmrppError;

#[derive(Debug, Clone)]
enum Value {
    /// The raw value, as it stands in the tag.
    Span(Range<usize>),
    /// The normalized value (index into `TagAttrs::owned`).
    Owned(usize),
}

/// The attributes of the current tag, as spans of its text.
#[derive(Debug, Default)]
pub(crate) struct TagAttrs {
    entries: Vec<(Range<usize>, Value)>,
    owned: Vec<String>,
}

/// Where `part` (a slice of `whole`) starts in `whole`.
fn offset_in(whole: &str, part: &str) -> Option<Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= whole.len()).then_some(start..end)
}

fn needs_normalizing(raw: &str) -> bool {
    raw.bytes()
        .any(|b| matches!(b, b'&' | b'\t' | b'\n' | b'\r'))
}

impl TagAttrs {
    /// Reads the attributes of `e`, replacing those of the previous tag. A malformed attribute
    /// or an undefined entity in a value is an error naming the document.
    pub(crate) fn read(&mut self, e: &BytesStart<'_>, url: &str) -> Result<(), DmrppError> {
        self.entries.clear();
        self.owned.clear();
        let tag: &str = e;
        let xml = |message: String| DmrppError::Xml {
            url: url.into(),
            position: 0,
            message,
        };
        for a in e.attributes().with_checks(false) {
            let a = a.map_err(|err| xml(err.to_string()))?;
            let local = a.key.local_name();
            let key: &str = local.as_ref();
            let Some(key_span) = offset_in(tag, key) else {
                return Err(xml(format!("attribute {key}: not within its tag")));
            };
            let borrowed = match &a.value {
                std::borrow::Cow::Borrowed(raw) if !needs_normalizing(raw) => offset_in(tag, raw),
                _ => None,
            };
            let value = match borrowed {
                Some(span) => Value::Span(span),
                None => {
                    let v = a
                        .normalized_value(XmlVersion::Implicit1_0)
                        .map_err(|err| xml(format!("attribute {key}: {err}")))?;
                    self.owned.push(v.into_owned());
                    Value::Owned(self.owned.len() - 1)
                }
            };
            self.entries.push((key_span, value));
        }
        Ok(())
    }

    /// The value of the attribute `key` (local name; the first one if repeated) of `tag`, the
    /// tag last [`read`](Self::read).
    pub(crate) fn get<'a>(&'a self, tag: &'a str, key: &str) -> Option<&'a str> {
        let (_, value) = self
            .entries
            .iter()
            .find(|(k, _)| tag.get(k.clone()) == Some(key))?;
        match value {
            Value::Span(span) => tag.get(span.clone()),
            Value::Owned(i) => self.owned.get(*i).map(String::as_str),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::Reader;
    use quick_xml::events::Event;

    fn first_tag(xml: &str, f: impl FnOnce(&BytesStart<'_>, &TagAttrs)) {
        let mut reader = Reader::from_str(xml);
        let mut attrs = TagAttrs::default();
        loop {
            match reader.read_event().unwrap() {
                Event::Start(e) | Event::Empty(e) => {
                    attrs.read(&e, "test.dmrpp").unwrap();
                    return f(&e, &attrs);
                }
                Event::Eof => panic!("no tag"),
                _ => {}
            }
        }
    }

    #[test]
    fn values_by_local_name_borrowed_or_normalized() {
        let xml = "<dmrpp:chunk dmrpp:offset=\"42\" nBytes='7' href=\"a&amp;b\ttab\" x:fm=\"1\"/>";
        first_tag(xml, |e, a| {
            assert_eq!(a.get(e, "offset"), Some("42"));
            assert_eq!(a.get(e, "nBytes"), Some("7"));
            assert_eq!(a.get(e, "href"), Some("a&b tab"));
            assert_eq!(a.get(e, "fm"), Some("1"));
            assert_eq!(a.get(e, "missing"), None);
        });
    }

    #[test]
    fn an_undefined_entity_is_an_error() {
        let mut reader = Reader::from_str("<chunk href=\"&evil;\"/>");
        let Ok(Event::Empty(e)) = reader.read_event() else {
            panic!("expected a tag")
        };
        let err = TagAttrs::default().read(&e, "x.dmrpp").unwrap_err();
        assert!(err.to_string().contains("href"), "{err}");
    }

    #[test]
    fn the_buffers_are_reused_from_tag_to_tag() {
        let mut reader = Reader::from_str("<a k=\"1&lt;\"/><b j=\"2\"/>");
        let mut attrs = TagAttrs::default();
        let Ok(Event::Empty(a)) = reader.read_event() else {
            panic!()
        };
        attrs.read(&a, "t").unwrap();
        assert_eq!(attrs.get(&a, "k"), Some("1<"));
        let Ok(Event::Empty(b)) = reader.read_event() else {
            panic!()
        };
        attrs.read(&b, "t").unwrap();
        assert_eq!((attrs.get(&b, "k"), attrs.get(&b, "j")), (None, Some("2")));
    }
}
