//! Kafka's text checkpoint file format, written atomically.
//!
//! ```text
//! <version>
//! <number of entries>
//! <entry>            (one line per entry, fields separated by a space)
//! ```
//! Used for `leader-epoch-checkpoint` (entries `epoch startOffset`, exactly as Kafka writes it)
//! and for Sluice's per-partition offsets and cleaner checkpoints. Writes go to `<name>.tmp`
//! and are renamed over the old file so a crash leaves either the old or the new content.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Longest checkpoint file we are willing to read; real ones are a few hundred bytes.
const MAX_CHECKPOINT_BYTES: u64 = 16 * 1024 * 1024;

/// Write `entries` with `version`; fsync the file (and the directory) when `durable`.
pub(crate) fn write(
    path: &Path,
    version: i32,
    entries: &[String],
    durable: bool,
) -> io::Result<()> {
    let mut text = format!("{version}\n{}\n", entries.len());
    for e in entries {
        text.push_str(e);
        text.push('\n');
    }
    let tmp = path.with_extension(match path.extension() {
        Some(ext) => format!("{}.tmp", ext.to_string_lossy()),
        None => "tmp".to_string(),
    });
    {
        let mut f = File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        if durable {
            f.sync_all()?;
        }
    }
    fs::rename(&tmp, path)?;
    if durable {
        if let Some(dir) = path.parent() {
            File::open(dir)?.sync_all()?;
        }
    }
    Ok(())
}

/// Read a checkpoint; Ok(None) if the file does not exist, InvalidData if it is malformed.
pub(crate) fn read(path: &Path, expected_version: i32) -> io::Result<Option<Vec<Vec<String>>>> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if meta.len() > MAX_CHECKPOINT_BYTES {
        return Err(invalid(path, "file too large"));
    }
    let text = fs::read_to_string(path)?;
    let mut lines = text.lines();
    let version: i32 = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| invalid(path, "bad version line"))?;
    if version != expected_version {
        return Err(invalid(path, "unsupported version"));
    }
    let count: usize = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| invalid(path, "bad size line"))?;
    let entries: Vec<Vec<String>> = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect();
    if entries.len() != count {
        return Err(invalid(path, "entry count mismatch"));
    }
    Ok(Some(entries))
}

fn invalid(path: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("malformed checkpoint {}: {why}", path.display()),
    )
}

/// Read a `key value` checkpoint into (key, i64) pairs, skipping entries that don't parse.
pub(crate) fn read_named_offsets(path: &Path) -> io::Result<Vec<(String, i64)>> {
    Ok(read(path, 0)?
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| match e.as_slice() {
            [k, v] => v.parse().ok().map(|v| (k.clone(), v)),
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("leader-epoch-checkpoint");
        write(&p, 0, &["0 0".into(), "3 150".into()], true).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "0\n2\n0 0\n3 150\n");
        let e = read(&p, 0).unwrap().unwrap();
        assert_eq!(e[1], vec!["3".to_string(), "150".to_string()]);
        fs::write(&p, "0\n5\n1 2\n").unwrap();
        assert!(read(&p, 0).is_err());
        assert!(read(&dir.path().join("missing"), 0).unwrap().is_none());
    }
}
