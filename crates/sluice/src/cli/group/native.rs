//! The consumer-group admin requests `sluice group` needs, made through librdkafka's C API because
//! rdkafka 0.39 wraps none of them except DeleteGroups (whose wrapper drops the broker's message):
//! ListGroups (ListConsumerGroups), DescribeGroups / ConsumerGroupDescribe
//! (DescribeConsumerGroups), OffsetFetch (ListConsumerGroupOffsets), OffsetCommit as an admin
//! (AlterConsumerGroupOffsets) and DeleteGroups.
//!
//! All of `sluice group`'s `unsafe` code lives here, behind safe functions returning owned data.

use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, CStr, CString};
use std::ptr;
use std::time::Duration;

use rdkafka::bindings as rd;
use rdkafka::client::{Client, ClientContext};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::TopicPartitionList;

use crate::cli::error::CliError;

/// A (topic, partition) pair, ordered as the commands print them.
pub type Partition = (String, i32);

/// The outcome for one group of a multi-group request.
pub type GroupOutcome = (String, Result<(), CliError>);

/// One group as ListGroups reports it.
#[derive(Debug, Clone)]
pub struct GroupListing {
    pub id: String,
    /// Kafka's state name: Stable, Empty, PreparingRebalance, ...
    pub state: String,
    /// `Classic` or `Consumer` (KIP-848).
    pub kind: String,
}

/// One member of a described group.
#[derive(Debug, Clone)]
pub struct MemberInfo {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub host: String,
    pub assignment: Vec<Partition>,
}

/// A group as DescribeGroups (classic) or ConsumerGroupDescribe (KIP-848) reports it.
#[derive(Debug, Clone)]
pub struct GroupDescription {
    pub id: String,
    pub state: String,
    pub kind: String,
    pub assignor: String,
    pub members: Vec<MemberInfo>,
}

/// Lists the cluster's consumer groups, only those in `states` (Kafka state names) if any given.
pub fn list_groups<C: ClientContext>(
    client: &Client<C>,
    states: &[String],
    timeout: Duration,
) -> Result<Vec<GroupListing>, CliError> {
    let action = "listing groups";
    let mut codes = Vec::with_capacity(states.len());
    for state in states {
        let name = c_str(action, state)?;
        // SAFETY: `name` is a valid NUL-terminated string.
        let code = unsafe { rd::rd_kafka_consumer_group_state_code(name.as_ptr()) };
        if code == rd::rd_kafka_consumer_group_state_t::RD_KAFKA_CONSUMER_GROUP_STATE_UNKNOWN {
            return Err(CliError::Invalid(format!(
                "unknown group state {state:?}; Kafka's states are Stable, Empty, \
                 PreparingRebalance, CompletingRebalance and Dead"
            )));
        }
        codes.push(code);
    }
    // SAFETY: see `Owned` and `round_trip`; the result is copied out before the event is freed.
    unsafe {
        let event = round_trip(
            client,
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS,
            timeout,
            action,
            |options| {
                if codes.is_empty() {
                    return Ok(());
                }
                let error = rd::rd_kafka_AdminOptions_set_match_consumer_group_states(
                    options,
                    codes.as_ptr(),
                    codes.len(),
                );
                take_error(action, error)
            },
            |rk, options, queue| rd::rd_kafka_ListConsumerGroups(rk, options, queue),
        )?;
        let result = rd::rd_kafka_event_ListConsumerGroups_result(event.ptr);
        if result.is_null() {
            return Err(unexpected_reply(action));
        }
        let mut count = 0;
        let errors = rd::rd_kafka_ListConsumerGroups_result_errors(result, &mut count);
        if count > 0 && !errors.is_null() {
            // A coordinator that could not answer: the list would be incomplete.
            return Err(error_object(action, *errors));
        }
        let listings = rd::rd_kafka_ListConsumerGroups_result_valid(result, &mut count);
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            let listing = *listings.add(i);
            out.push(GroupListing {
                id: c_string(rd::rd_kafka_ConsumerGroupListing_group_id(listing)),
                state: state_name(rd::rd_kafka_ConsumerGroupListing_state(listing)),
                kind: type_name(rd::rd_kafka_ConsumerGroupListing_type(listing)),
            });
        }
        Ok(out)
    }
}

/// Describes one group. A group the coordinator does not know is reported as `Dead` with no
/// members, as Kafka's DescribeGroups does.
pub fn describe_group<C: ClientContext>(
    client: &Client<C>,
    group: &str,
    timeout: Duration,
) -> Result<GroupDescription, CliError> {
    let action = format!("describing group {group}");
    let name = c_str(&action, group)?;
    // SAFETY: see `Owned` and `round_trip`; results are copied out before the event is freed.
    unsafe {
        let mut groups = [name.as_ptr()];
        let event = round_trip(
            client,
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS,
            timeout,
            &action,
            |_| Ok(()),
            |rk, options, queue| {
                rd::rd_kafka_DescribeConsumerGroups(rk, groups.as_mut_ptr(), 1, options, queue)
            },
        )?;
        let result = rd::rd_kafka_event_DescribeConsumerGroups_result(event.ptr);
        if result.is_null() {
            return Err(unexpected_reply(&action));
        }
        let mut count = 0;
        let descriptions = rd::rd_kafka_DescribeConsumerGroups_result_groups(result, &mut count);
        if count != 1 || descriptions.is_null() {
            return Err(unexpected_reply(&action));
        }
        let desc = *descriptions;
        let error = rd::rd_kafka_ConsumerGroupDescription_error(desc);
        if !error.is_null() {
            let code = RDKafkaErrorCode::from(rd::rd_kafka_error_code(error));
            if code == RDKafkaErrorCode::GroupIdNotFound {
                return Ok(GroupDescription {
                    id: group.to_owned(),
                    state: "Dead".to_owned(),
                    kind: "Unknown".to_owned(),
                    assignor: String::new(),
                    members: Vec::new(),
                });
            }
            return Err(error_object(&action, error));
        }
        let mut members = Vec::new();
        for i in 0..rd::rd_kafka_ConsumerGroupDescription_member_count(desc) {
            let member = rd::rd_kafka_ConsumerGroupDescription_member(desc, i);
            let instance = c_string(rd::rd_kafka_MemberDescription_group_instance_id(member));
            let assignment = rd::rd_kafka_MemberDescription_assignment(member);
            let partitions = if assignment.is_null() {
                Vec::new()
            } else {
                partition_list(rd::rd_kafka_MemberAssignment_partitions(assignment))
                    .into_iter()
                    .map(|(tp, _, _)| tp)
                    .collect()
            };
            members.push(MemberInfo {
                member_id: c_string(rd::rd_kafka_MemberDescription_consumer_id(member)),
                instance_id: (!instance.is_empty()).then_some(instance),
                client_id: c_string(rd::rd_kafka_MemberDescription_client_id(member)),
                host: c_string(rd::rd_kafka_MemberDescription_host(member)),
                assignment: partitions,
            });
        }
        Ok(GroupDescription {
            id: c_string(rd::rd_kafka_ConsumerGroupDescription_group_id(desc)),
            state: state_name(rd::rd_kafka_ConsumerGroupDescription_state(desc)),
            kind: type_name(rd::rd_kafka_ConsumerGroupDescription_type(desc)),
            assignor: c_string(rd::rd_kafka_ConsumerGroupDescription_partition_assignor(
                desc,
            )),
            members,
        })
    }
}

/// The group's committed offsets (OffsetFetch for all partitions): partition -> offset.
pub fn committed_offsets<C: ClientContext>(
    client: &Client<C>,
    group: &str,
    timeout: Duration,
) -> Result<BTreeMap<Partition, i64>, CliError> {
    let action = format!("reading committed offsets of group {group}");
    let name = c_str(&action, group)?;
    // SAFETY: see `Owned` and `round_trip`; results are copied out before the event is freed.
    unsafe {
        let request = Owned::new(
            rd::rd_kafka_ListConsumerGroupOffsets_new(name.as_ptr(), ptr::null()),
            rd::rd_kafka_ListConsumerGroupOffsets_destroy,
        )
        .ok_or_else(|| CliError::Invalid(format!("{action}: cannot build the request")))?;
        let mut requests = [request.ptr];
        let event = round_trip(
            client,
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS,
            timeout,
            &action,
            |_| Ok(()),
            |rk, options, queue| {
                rd::rd_kafka_ListConsumerGroupOffsets(rk, requests.as_mut_ptr(), 1, options, queue)
            },
        )?;
        let result = rd::rd_kafka_event_ListConsumerGroupOffsets_result(event.ptr);
        if result.is_null() {
            return Err(unexpected_reply(&action));
        }
        let mut count = 0;
        let groups = rd::rd_kafka_ListConsumerGroupOffsets_result_groups(result, &mut count);
        let partitions = single_group(&action, groups, count)?;
        let mut out = BTreeMap::new();
        for (tp, offset, code) in partitions {
            if code != RDKafkaErrorCode::NoError {
                return Err(CliError::kafka(
                    format!("{action} ({}-{})", tp.0, tp.1),
                    Some(&tp.0),
                    code,
                ));
            }
            // librdkafka reports partitions without a committed offset as -1001 (invalid).
            if offset >= 0 {
                out.insert(tp, offset);
            }
        }
        Ok(out)
    }
}

/// Commits `offsets` for `group` as an admin (OffsetCommit without a member), which Kafka accepts
/// only while the group has no members. Returns each partition's outcome.
pub fn alter_offsets<C: ClientContext>(
    client: &Client<C>,
    group: &str,
    offsets: &BTreeMap<Partition, i64>,
    timeout: Duration,
) -> Result<Vec<(Partition, RDKafkaErrorCode)>, CliError> {
    let action = format!("committing offsets of group {group}");
    let name = c_str(&action, group)?;
    let mut list = TopicPartitionList::with_capacity(offsets.len());
    for ((topic, partition), offset) in offsets {
        list.add_partition_offset(topic, *partition, rdkafka::Offset::Offset(*offset))
            .map_err(|err| CliError::Invalid(format!("{action}: {err}")))?;
    }
    // SAFETY: see `Owned` and `round_trip`; librdkafka copies the partition list.
    unsafe {
        let request = Owned::new(
            rd::rd_kafka_AlterConsumerGroupOffsets_new(name.as_ptr(), list.ptr()),
            rd::rd_kafka_AlterConsumerGroupOffsets_destroy,
        )
        .ok_or_else(|| CliError::Invalid(format!("{action}: cannot build the request")))?;
        let mut requests = [request.ptr];
        let event = round_trip(
            client,
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS,
            timeout,
            &action,
            |_| Ok(()),
            |rk, options, queue| {
                rd::rd_kafka_AlterConsumerGroupOffsets(rk, requests.as_mut_ptr(), 1, options, queue)
            },
        )?;
        let result = rd::rd_kafka_event_AlterConsumerGroupOffsets_result(event.ptr);
        if result.is_null() {
            return Err(unexpected_reply(&action));
        }
        let mut count = 0;
        let groups = rd::rd_kafka_AlterConsumerGroupOffsets_result_groups(result, &mut count);
        Ok(single_group(&action, groups, count)?
            .into_iter()
            .map(|(tp, _, code)| (tp, code))
            .collect())
    }
}

/// Deletes each group (with its committed offsets); the outcome of each is reported separately.
pub fn delete_groups<C: ClientContext>(
    client: &Client<C>,
    groups: &[String],
    timeout: Duration,
) -> Result<Vec<GroupOutcome>, CliError> {
    let action = "deleting groups";
    let names = groups
        .iter()
        .map(|group| c_str(action, group))
        .collect::<Result<Vec<_>, _>>()?;
    // SAFETY: see `Owned` and `round_trip`; results are copied out before the event is freed.
    unsafe {
        let requests = names
            .iter()
            .map(|name| {
                Owned::new(
                    rd::rd_kafka_DeleteGroup_new(name.as_ptr()),
                    rd::rd_kafka_DeleteGroup_destroy,
                )
                .ok_or_else(|| CliError::Invalid(format!("{action}: cannot build the request")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut pointers: Vec<_> = requests.iter().map(|request| request.ptr).collect();
        let event = round_trip(
            client,
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DELETEGROUPS,
            timeout,
            action,
            |_| Ok(()),
            |rk, options, queue| {
                rd::rd_kafka_DeleteGroups(rk, pointers.as_mut_ptr(), pointers.len(), options, queue)
            },
        )?;
        let result = rd::rd_kafka_event_DeleteGroups_result(event.ptr);
        if result.is_null() {
            return Err(unexpected_reply(action));
        }
        let mut count = 0;
        let results = rd::rd_kafka_DeleteGroups_result_groups(result, &mut count);
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            let group = *results.add(i);
            let name = c_string(rd::rd_kafka_group_result_name(group));
            let error = rd::rd_kafka_group_result_error(group);
            let outcome = if error.is_null() {
                Ok(())
            } else {
                Err(error_object(&format!("deleting group {name}"), error))
            };
            out.push((name, outcome));
        }
        Ok(out)
    }
}

/// Kafka's name for a librdkafka group state.
fn state_name(state: rd::rd_kafka_consumer_group_state_t) -> String {
    // SAFETY: returns a static NUL-terminated string for any state.
    unsafe { c_string(rd::rd_kafka_consumer_group_state_name(state)) }
}

fn type_name(kind: rd::rd_kafka_consumer_group_type_t) -> String {
    // SAFETY: returns a static NUL-terminated string for any type.
    unsafe { c_string(rd::rd_kafka_consumer_group_type_name(kind)) }
}

/// The partitions of the only group result of an offsets request.
///
/// # Safety
/// `groups` must be NULL or point to `count` group results owned by a live event.
unsafe fn single_group(
    action: &str,
    groups: *mut *const rd::rd_kafka_group_result_t,
    count: usize,
) -> Result<Vec<(Partition, i64, RDKafkaErrorCode)>, CliError> {
    if groups.is_null() || count != 1 {
        return Err(unexpected_reply(action));
    }
    // SAFETY: guaranteed by the caller.
    unsafe {
        let group = *groups;
        let error = rd::rd_kafka_group_result_error(group);
        if !error.is_null() {
            return Err(error_object(action, error));
        }
        Ok(partition_list(rd::rd_kafka_group_result_partitions(group)))
    }
}

/// Copies a borrowed partition list: (topic, partition), offset, per-partition error.
///
/// # Safety
/// `list` must be NULL or a valid partition list for the duration of the call.
unsafe fn partition_list(
    list: *const rd::rd_kafka_topic_partition_list_t,
) -> Vec<(Partition, i64, RDKafkaErrorCode)> {
    if list.is_null() {
        return Vec::new();
    }
    // SAFETY: guaranteed by the caller; `elems` holds `cnt` initialised entries.
    unsafe {
        let list = &*list;
        let count = usize::try_from(list.cnt).unwrap_or(0);
        (0..count)
            .map(|i| {
                let elem = &*list.elems.add(i);
                (
                    (c_string(elem.topic), elem.partition),
                    elem.offset,
                    RDKafkaErrorCode::from(elem.err),
                )
            })
            .collect()
    }
}

/// Sends one admin request with `send` and waits for its result event, bounded by `timeout`.
/// `configure` may set request-specific options first.
///
/// # Safety
/// `send` must issue exactly one librdkafka admin request of type `op` on the given options and
/// queue, with arguments that stay valid for the duration of the call.
unsafe fn round_trip<C: ClientContext>(
    client: &Client<C>,
    op: rd::rd_kafka_admin_op_t,
    timeout: Duration,
    action: &str,
    configure: impl FnOnce(*mut rd::rd_kafka_AdminOptions_t) -> Result<(), CliError>,
    send: impl FnOnce(
        *mut rd::rd_kafka_t,
        *const rd::rd_kafka_AdminOptions_t,
        *mut rd::rd_kafka_queue_t,
    ),
) -> Result<Owned<rd::rd_kafka_event_t>, CliError> {
    let rk = client.native_ptr();
    let timeout_ms = c_int::try_from(timeout.as_millis()).unwrap_or(c_int::MAX);
    let cannot_build = || CliError::Invalid(format!("{action}: cannot build the request"));
    // SAFETY: `rk` is a live client handle; each object is destroyed once by its guard.
    unsafe {
        let options = Owned::new(
            rd::rd_kafka_AdminOptions_new(rk, op),
            rd::rd_kafka_AdminOptions_destroy,
        )
        .ok_or_else(cannot_build)?;
        let mut errstr = [0 as c_char; 512];
        // Only rejects out-of-range values, which `timeout_ms` cannot be.
        rd::rd_kafka_AdminOptions_set_request_timeout(
            options.ptr,
            timeout_ms,
            errstr.as_mut_ptr(),
            errstr.len(),
        );
        configure(options.ptr)?;
        let queue = Owned::new(rd::rd_kafka_queue_new(rk), rd::rd_kafka_queue_destroy)
            .ok_or_else(cannot_build)?;
        send(rk, options.ptr, queue.ptr);
        // librdkafka answers on the queue when the request timeout expires; the extra second
        // only guards against that answer never coming.
        let event = Owned::new(
            rd::rd_kafka_queue_poll(queue.ptr, timeout_ms.saturating_add(1_000)),
            rd::rd_kafka_event_destroy,
        )
        .ok_or_else(|| CliError::kafka(action, None, RDKafkaErrorCode::OperationTimedOut))?;
        let code = rd::rd_kafka_event_error(event.ptr);
        if code != RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR {
            let message = c_string(rd::rd_kafka_event_error_string(event.ptr));
            return Err(failure(action, code.into(), message));
        }
        Ok(event)
    }
}

/// Turns a librdkafka error object into a [`CliError`], destroying nothing (it is borrowed).
///
/// # Safety
/// `error` must be a valid error object.
unsafe fn error_object(action: &str, error: *const rd::rd_kafka_error_t) -> CliError {
    // SAFETY: guaranteed by the caller.
    unsafe {
        let code = RDKafkaErrorCode::from(rd::rd_kafka_error_code(error));
        failure(action, code, c_string(rd::rd_kafka_error_string(error)))
    }
}

/// Consumes an error object returned by an options setter.
///
/// # Safety
/// `error` must be NULL or an error object owned by the caller.
unsafe fn take_error(action: &str, error: *mut rd::rd_kafka_error_t) -> Result<(), CliError> {
    if error.is_null() {
        return Ok(());
    }
    // SAFETY: guaranteed by the caller; destroyed once, after its text is copied.
    unsafe {
        let message = c_string(rd::rd_kafka_error_string(error));
        rd::rd_kafka_error_destroy(error);
        Err(CliError::Invalid(format!("{action}: {message}")))
    }
}

/// A failed request, keeping the broker's message when it says more than the code's name.
fn failure(action: &str, code: RDKafkaErrorCode, message: String) -> CliError {
    let generic = match RDKafkaRespErr::try_from(code as i32) {
        // SAFETY: rd_kafka_err2str returns a static NUL-terminated string for any code.
        Ok(raw) => unsafe { c_string(rd::rd_kafka_err2str(raw)) },
        Err(_) => String::new(),
    };
    let detail = (!message.is_empty() && message != generic).then_some(message);
    CliError::kafka(action, None, code).with_detail(detail)
}

fn unexpected_reply(action: &str) -> CliError {
    CliError::Invalid(format!("{action}: unexpected reply from librdkafka"))
}

fn c_str(action: &str, text: &str) -> Result<CString, CliError> {
    CString::new(text)
        .map_err(|_| CliError::Invalid(format!("{action}: {text:?} contains a NUL byte")))
}

/// Copies a librdkafka string, which may be NULL.
///
/// # Safety
/// `raw` must be NULL or point to a NUL-terminated string valid for the duration of the call.
unsafe fn c_string(raw: *const c_char) -> String {
    if raw.is_null() {
        String::new()
    } else {
        // SAFETY: guaranteed by the caller.
        unsafe { CStr::from_ptr(raw) }
            .to_string_lossy()
            .into_owned()
    }
}

/// A librdkafka object destroyed when the guard goes out of scope.
struct Owned<T> {
    ptr: *mut T,
    destroy: unsafe extern "C" fn(*mut T),
}

impl<T> Owned<T> {
    /// Takes ownership of `ptr`; `None` if librdkafka returned NULL.
    fn new(ptr: *mut T, destroy: unsafe extern "C" fn(*mut T)) -> Option<Self> {
        (!ptr.is_null()).then_some(Owned { ptr, destroy })
    }
}

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        // SAFETY: `ptr` is non-NULL, owned by this guard and destroyed only here.
        unsafe { (self.destroy)(self.ptr) }
    }
}
