//! DeleteTopics: by name (all versions) or by topic id (v6+).

use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, TopicName};

use super::str_bytes;
use crate::dispatch::{Ctx, Outcome};
use crate::error::{code, Code};

pub async fn handle(ctx: &Ctx, req: DeleteTopicsRequest) -> Outcome<DeleteTopicsResponse> {
    let v = ctx.api_version;
    let broker = &ctx.broker;
    let mut resp = DeleteTopicsResponse::default();
    let mut targets: Vec<(Option<String>, uuid::Uuid)> = req
        .topic_names
        .iter()
        .map(|n| (Some(n.0.to_string()), uuid::Uuid::nil()))
        .collect();
    targets.extend(
        req.topics
            .iter()
            .map(|t| (t.name.as_ref().map(|n| n.0.to_string()), t.topic_id)),
    );
    for (name, id) in targets {
        let mut r = DeletableTopicResult::default();
        let topic = match &name {
            Some(n) => broker.topics.get(n),
            None => broker.topics.get_by_id(id),
        };
        let (err, msg) = match topic {
            _ if !broker.config.delete_topic_enable => (
                code(Code::TopicDeletionDisabled),
                Some("Topic deletion is disabled.".to_string()),
            ),
            None if name.is_none() => (code(Code::UnknownTopicId), None),
            None => (code(Code::UnknownTopicOrPartition), None),
            Some(t) if t.internal => (
                code(Code::InvalidTopicException),
                Some(format!(
                    "Topic {} is an internal topic and cannot be deleted",
                    t.name
                )),
            ),
            Some(t) => match broker.topics.delete(&t.name) {
                Ok(_) => {
                    if v >= 6 {
                        r.topic_id = t.id;
                    }
                    (0, None)
                }
                Err(e) => (e.code.code(), Some(e.message)),
            },
        };
        r.name = name.map(|n| TopicName(str_bytes(n)));
        if v >= 6 && r.topic_id.is_nil() {
            r.topic_id = id;
        }
        r.error_code = err;
        if v >= 5 {
            r.error_message = msg.map(str_bytes);
        }
        resp.responses.push(r);
    }
    Outcome::Now(resp)
}
