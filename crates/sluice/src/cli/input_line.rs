//! How `sluice produce` turns one stdin line into a record: optional per-line headers, then an
//! optional key, then the value — the same order as Kafka's console producer
//! (`h1=v1,h2=v2<headers-separator>key<key-separator>value`).

/// A header as given on the command line or in a line: a name and an optional (null) value.
pub type HeaderPair<'a> = (&'a str, Option<&'a [u8]>);

/// The separators that split a line; `None` means that part is absent from every line.
#[derive(Debug, Clone, Default)]
pub struct LineFormat {
    pub key_separator: Option<Vec<u8>>,
    pub headers_separator: Option<Vec<u8>>,
}

/// One parsed line, borrowing from it.
#[derive(Debug, PartialEq, Eq)]
pub struct ParsedLine<'a> {
    pub headers: Vec<HeaderPair<'a>>,
    pub key: Option<&'a [u8]>,
    pub value: &'a [u8],
}

impl LineFormat {
    /// Splits `line` (without its line terminator). Errors say what is missing, for the caller
    /// to prefix with the line number.
    pub fn parse<'a>(&self, line: &'a [u8]) -> Result<ParsedLine<'a>, String> {
        let mut rest = line;
        let mut headers = Vec::new();
        if let Some(separator) = &self.headers_separator {
            let (header_part, after) = split_once(rest, separator).ok_or_else(|| {
                format!(
                    "no headers separator {:?} found",
                    String::from_utf8_lossy(separator)
                )
            })?;
            if !header_part.is_empty() {
                for pair in header_part.split(|&b| b == b',') {
                    headers.push(parse_header(pair)?);
                }
            }
            rest = after;
        }
        let (key, value) = match &self.key_separator {
            Some(separator) => {
                let (key, value) = split_once(rest, separator).ok_or_else(|| {
                    format!(
                        "no key separator {:?} found",
                        String::from_utf8_lossy(separator)
                    )
                })?;
                (Some(key), value)
            }
            None => (None, rest),
        };
        Ok(ParsedLine {
            headers,
            key,
            value,
        })
    }
}

/// `name=value`, or a bare `name` for a header with a null value.
pub fn parse_header(pair: &[u8]) -> Result<HeaderPair<'_>, String> {
    let (name, value) = match pair.iter().position(|&b| b == b'=') {
        Some(i) => (&pair[..i], Some(&pair[i + 1..])),
        None => (pair, None),
    };
    let name = std::str::from_utf8(name).map_err(|_| {
        format!(
            "header name {:?} is not UTF-8",
            String::from_utf8_lossy(name)
        )
    })?;
    if name.is_empty() {
        return Err(format!(
            "header {:?} has an empty name",
            String::from_utf8_lossy(pair)
        ));
    }
    Ok((name, value))
}

/// Removes a trailing `\n` or `\r\n`.
pub fn strip_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn split_once<'a>(haystack: &'a [u8], separator: &[u8]) -> Option<(&'a [u8], &'a [u8])> {
    if separator.is_empty() || separator.len() > haystack.len() {
        return None;
    }
    haystack
        .windows(separator.len())
        .position(|window| window == separator)
        .map(|i| (&haystack[..i], &haystack[i + separator.len()..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(key: Option<&str>, headers: Option<&str>) -> LineFormat {
        LineFormat {
            key_separator: key.map(|s| s.as_bytes().to_vec()),
            headers_separator: headers.map(|s| s.as_bytes().to_vec()),
        }
    }

    #[test]
    fn value_only_by_default() {
        let parsed = format(None, None).parse(b"a:b|c").expect("parses");
        assert_eq!(parsed.value, b"a:b|c");
        assert_eq!(parsed.key, None);
        assert!(parsed.headers.is_empty());
    }

    #[test]
    fn key_splits_at_the_first_separator() {
        let parsed = format(Some("::"), None).parse(b"k::v::w").expect("parses");
        assert_eq!(parsed.key, Some(&b"k"[..]));
        assert_eq!(parsed.value, b"v::w");
        let empty = format(Some(":"), None).parse(b":").expect("parses");
        assert_eq!((empty.key, empty.value), (Some(&b""[..]), &b""[..]));
    }

    #[test]
    fn headers_then_key_then_value() {
        let parsed = format(Some(":"), Some("|"))
            .parse(b"a=1,b,c=x=y|k:v")
            .expect("parses");
        assert_eq!(
            parsed.headers,
            vec![
                ("a", Some(&b"1"[..])),
                ("b", None),
                ("c", Some(&b"x=y"[..]))
            ]
        );
        assert_eq!(parsed.key, Some(&b"k"[..]));
        assert_eq!(parsed.value, b"v");
        let no_headers = format(None, Some("|")).parse(b"|v").expect("parses");
        assert!(no_headers.headers.is_empty());
        assert_eq!(no_headers.value, b"v");
    }

    #[test]
    fn missing_separators_are_errors() {
        assert_eq!(
            format(Some(":"), None).parse(b"novalue"),
            Err("no key separator \":\" found".to_owned())
        );
        assert!(format(None, Some("|")).parse(b"a=1").is_err());
        assert!(format(None, Some("|")).parse(b"=1|v").is_err());
    }

    #[test]
    fn line_ends_are_stripped() {
        assert_eq!(strip_line_end(b"a\r\n"), b"a");
        assert_eq!(strip_line_end(b"a\n"), b"a");
        assert_eq!(strip_line_end(b"a"), b"a");
        assert_eq!(strip_line_end(b"\n"), b"");
    }
}
