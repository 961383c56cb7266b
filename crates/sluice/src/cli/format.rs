//! How `sluice consume` prints a record: a small kcat-style template language
//! (`%t %p %o %k %s %h %T %K %S %%` plus `\n \t \r \\` escapes) and the text/hex/base64
//! encodings for keys and values.

use std::io::{self, Write};

/// How key or value bytes are written out.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Encoding {
    /// The raw bytes, unchanged.
    #[default]
    Text,
    /// Lowercase hexadecimal.
    Hex,
    /// Standard base64 with padding.
    Base64,
}

/// One record as the formatter sees it.
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: &'a [(&'a str, Option<&'a [u8]>)],
    /// Milliseconds since the epoch, if the record carries a timestamp.
    pub timestamp: Option<i64>,
}

/// A piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(Vec<u8>),
    Topic,
    Partition,
    Offset,
    Key,
    Value,
    Headers,
    Timestamp,
    KeyLength,
    ValueLength,
}

/// A parsed output template plus the key/value encodings.
#[derive(Debug, Clone)]
pub struct Formatter {
    pieces: Vec<Piece>,
    key_encoding: Encoding,
    value_encoding: Encoding,
}

/// The help text for `--format`.
pub const FORMAT_HELP: &str = "Output template: %t topic, %p partition, %o offset, %k key, \
%s value, %h headers (k=v,k2=v2), %T timestamp (ms), %K key length, %S value length, %% a \
percent sign; \\n \\t \\r \\\\ are escapes. Nothing is added at the end, so finish with \\n \
for one record per line, e.g. '%k=%s\\n'";

impl Formatter {
    /// Parses a template, rejecting unknown `%` directives and `\` escapes.
    pub fn parse(
        template: &str,
        key_encoding: Encoding,
        value_encoding: Encoding,
    ) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut literal = Vec::new();
        let mut chars = template.chars();
        while let Some(c) = chars.next() {
            match c {
                '%' => {
                    let directive = chars
                        .next()
                        .ok_or_else(|| "format ends with a lone '%'".to_owned())?;
                    let piece = match directive {
                        '%' => {
                            literal.push(b'%');
                            continue;
                        }
                        't' => Piece::Topic,
                        'p' => Piece::Partition,
                        'o' => Piece::Offset,
                        'k' => Piece::Key,
                        's' => Piece::Value,
                        'h' => Piece::Headers,
                        'T' => Piece::Timestamp,
                        'K' => Piece::KeyLength,
                        'S' => Piece::ValueLength,
                        other => return Err(format!("unknown format directive '%{other}'")),
                    };
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    pieces.push(piece);
                }
                '\\' => {
                    let escaped = match chars.next() {
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('r') => '\r',
                        Some('\\') => '\\',
                        Some(other) => return Err(format!("unknown escape '\\{other}' in format")),
                        None => return Err("format ends with a lone '\\'".to_owned()),
                    };
                    literal.push(escaped as u8);
                }
                other => {
                    let mut buf = [0; 4];
                    literal.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(Formatter {
            pieces,
            key_encoding,
            value_encoding,
        })
    }

    /// Writes one record according to the template.
    pub fn write(&self, out: &mut impl Write, record: &RecordView<'_>) -> io::Result<()> {
        for piece in &self.pieces {
            match piece {
                Piece::Literal(bytes) => out.write_all(bytes)?,
                Piece::Topic => out.write_all(record.topic.as_bytes())?,
                Piece::Partition => write!(out, "{}", record.partition)?,
                Piece::Offset => write!(out, "{}", record.offset)?,
                Piece::Key => {
                    write_encoded(out, record.key.unwrap_or_default(), self.key_encoding)?
                }
                Piece::Value => {
                    write_encoded(out, record.value.unwrap_or_default(), self.value_encoding)?;
                }
                Piece::Headers => write_headers(out, record.headers)?,
                Piece::Timestamp => write!(out, "{}", record.timestamp.unwrap_or(-1))?,
                Piece::KeyLength => write!(out, "{}", length(record.key))?,
                Piece::ValueLength => write!(out, "{}", length(record.value))?,
            }
        }
        Ok(())
    }
}

/// Length in bytes, or -1 for a null key/value (as kcat prints it).
fn length(bytes: Option<&[u8]>) -> i64 {
    bytes.map_or(-1, |b| b.len() as i64)
}

/// `k=v,k2=v2`; a header with a null value is written as its bare name.
fn write_headers(out: &mut impl Write, headers: &[(&str, Option<&[u8]>)]) -> io::Result<()> {
    for (i, (name, value)) in headers.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        out.write_all(name.as_bytes())?;
        if let Some(value) = value {
            out.write_all(b"=")?;
            out.write_all(value)?;
        }
    }
    Ok(())
}

fn write_encoded(out: &mut impl Write, bytes: &[u8], encoding: Encoding) -> io::Result<()> {
    match encoding {
        Encoding::Text => out.write_all(bytes),
        Encoding::Hex => {
            for byte in bytes {
                write!(out, "{byte:02x}")?;
            }
            Ok(())
        }
        Encoding::Base64 => out.write_all(base64(bytes).as_bytes()),
    }
}

/// Standard (RFC 4648) base64 with `=` padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut encoded = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let group = (u32::from(chunk[0]) << 16)
            | (u32::from(chunk.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(chunk.get(2).copied().unwrap_or(0));
        let symbols = chunk.len() + 1;
        for i in 0..4 {
            if i < symbols {
                let index = (group >> (18 - 6 * i)) & 0x3f;
                encoded.push(ALPHABET[index as usize] as char);
            } else {
                encoded.push('=');
            }
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(template: &str, key: Encoding, value: Encoding, record: &RecordView<'_>) -> String {
        let formatter = Formatter::parse(template, key, value).expect("valid template");
        let mut out = Vec::new();
        formatter.write(&mut out, record).expect("write to a Vec");
        String::from_utf8(out).expect("utf-8 output")
    }

    fn record<'a>(headers: &'a [(&'a str, Option<&'a [u8]>)]) -> RecordView<'a> {
        RecordView {
            topic: "orders",
            partition: 2,
            offset: 41,
            key: Some(b"k1"),
            value: Some(b"hello"),
            headers,
            timestamp: Some(1_700_000_000_123),
        }
    }

    #[test]
    fn every_directive_and_escape() {
        let headers: &[(&str, Option<&[u8]>)] = &[("a", Some(b"1")), ("b", None)];
        let text = render(
            "%t|%p|%o|%k|%s|%h|%T|%K|%S|%%\\t\\\\\\n",
            Encoding::Text,
            Encoding::Text,
            &record(headers),
        );
        assert_eq!(text, "orders|2|41|k1|hello|a=1,b|1700000000123|2|5|%\t\\\n");
    }

    #[test]
    fn null_key_and_value_print_empty_with_length_minus_one() {
        let mut rec = record(&[]);
        rec.key = None;
        rec.value = None;
        rec.timestamp = None;
        let text = render("[%k][%s][%K][%S][%T]", Encoding::Text, Encoding::Text, &rec);
        assert_eq!(text, "[][][-1][-1][-1]");
    }

    #[test]
    fn hex_and_base64() {
        let text = render("%k %s", Encoding::Hex, Encoding::Base64, &record(&[]));
        assert_eq!(text, "6b31 aGVsbG8=");
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(&[0xff, 0xfe]), "//4=");
    }

    #[test]
    fn bad_templates_are_rejected() {
        assert!(Formatter::parse("%x", Encoding::Text, Encoding::Text).is_err());
        assert!(Formatter::parse("abc%", Encoding::Text, Encoding::Text).is_err());
        assert!(Formatter::parse("\\q", Encoding::Text, Encoding::Text).is_err());
    }

    #[test]
    fn non_ascii_literals_survive() {
        let text = render("é%s→\n", Encoding::Text, Encoding::Text, &record(&[]));
        assert_eq!(text, "éhello→\n");
    }
}
