//! DescribeLogDirs: the one data directory (as an absolute path), the size of each partition
//! in it, and (v4) the file system's total and usable bytes.

use std::collections::HashSet;
use std::path::Path;

use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse, TopicName};

use super::str_bytes;
use crate::dispatch::{Ctx, Outcome};
use crate::error::Code;

pub async fn handle(ctx: &Ctx, req: DescribeLogDirsRequest) -> Outcome<DescribeLogDirsResponse> {
    let broker = &ctx.broker;
    let data_dir = broker.data_dir();
    let dir = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    // None: every partition; otherwise only those asked for (unknown ones are left out).
    let wanted: Option<HashSet<(String, i32)>> = req.topics.map(|topics| {
        topics
            .into_iter()
            .flat_map(|t| {
                let name = t.topic.0.to_string();
                t.partitions.into_iter().map(move |p| (name.clone(), p))
            })
            .collect()
    });
    let mut result = DescribeLogDirsResult::default();
    result.log_dir = str_bytes(dir.to_string_lossy().into_owned());
    match disk_space(&dir) {
        Ok((total, usable)) => {
            if ctx.api_version >= 4 {
                result.total_bytes = total;
                result.usable_bytes = usable;
            }
        }
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot read the data directory's file system");
            result.error_code = Code::KafkaStorageError.code();
        }
    }
    if result.error_code == 0 {
        for topic in broker.topics.list() {
            let partitions: Vec<DescribeLogDirsPartition> = topic
                .partitions
                .iter()
                .filter(|p| {
                    wanted
                        .as_ref()
                        .is_none_or(|w| w.contains(&(topic.name.to_string(), p.index)))
                })
                .map(|p| {
                    let mut dp = DescribeLogDirsPartition::default();
                    dp.partition_index = p.index;
                    dp.partition_size = p
                        .with_log(|log| log.size_bytes())
                        .try_into()
                        .unwrap_or(i64::MAX);
                    // offset_lag 0 and is_future_key false (the defaults): Sluice never moves
                    // a partition between directories.
                    dp
                })
                .collect();
            if !partitions.is_empty() {
                let mut t = DescribeLogDirsTopic::default();
                t.name = TopicName(str_bytes(topic.name.to_string()));
                t.partitions = partitions;
                result.topics.push(t);
            }
        }
    }
    let mut resp = DescribeLogDirsResponse::default();
    resp.results = vec![result];
    Outcome::Now(resp)
}

/// (total, usable) bytes of the file system holding `dir`, as Java's FileStore reports them.
fn disk_space(dir: &Path) -> std::io::Result<(i64, i64)> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    // SAFETY: `path` is a valid NUL-terminated string and `stat` a writable statvfs that
    // statvfs(3) fills in; both outlive the call.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let bytes =
        |blocks: u64| i64::try_from(blocks.saturating_mul(stat.f_frsize)).unwrap_or(i64::MAX);
    Ok((bytes(stat.f_blocks), bytes(stat.f_bavail)))
}
