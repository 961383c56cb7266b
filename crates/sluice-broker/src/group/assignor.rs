//! Server-side partition assignors for KIP-848 groups: `uniform` (balanced and sticky) and
//! `range` (contiguous ranges per topic), named as Kafka names them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use uuid::Uuid;

/// A member's partitions by topic id.
pub type Assignment = BTreeMap<Uuid, BTreeSet<i32>>;

/// What an assignor sees of one member.
pub struct MemberSpec<'a> {
    pub id: &'a str,
    pub topics: BTreeSet<Uuid>,
    /// The member's current target, for stickiness.
    pub previous: Option<&'a Assignment>,
}

/// Computes the target assignment for every member. `topics` gives the partition count of every
/// subscribed topic that exists.
pub fn assign(
    name: &str,
    members: &[MemberSpec<'_>],
    topics: &BTreeMap<Uuid, i32>,
) -> HashMap<String, Assignment> {
    match name {
        "range" => range(members, topics),
        _ => uniform(members, topics),
    }
}

/// Balanced within one partition per member among members that can take a partition, keeping
/// every partition where it was when that does not unbalance the group.
fn uniform(
    members: &[MemberSpec<'_>],
    topics: &BTreeMap<Uuid, i32>,
) -> HashMap<String, Assignment> {
    let mut owner: BTreeMap<(Uuid, i32), usize> = BTreeMap::new();
    let mut count = vec![0usize; members.len()];
    // 1. Keep previous placements that are still valid.
    for (i, m) in members.iter().enumerate() {
        for (topic, parts) in m.previous.into_iter().flatten() {
            let Some(&n) = topics.get(topic) else {
                continue;
            };
            if !m.topics.contains(topic) {
                continue;
            }
            for &p in parts {
                if p < n && !owner.contains_key(&(*topic, p)) {
                    owner.insert((*topic, p), i);
                    count[i] += 1;
                }
            }
        }
    }
    // 2. Place every unowned partition on the least loaded member that subscribes to its topic.
    for (&topic, &n) in topics {
        let eligible: Vec<usize> = (0..members.len())
            .filter(|&i| members[i].topics.contains(&topic))
            .collect();
        for p in 0..n {
            if owner.contains_key(&(topic, p)) {
                continue;
            }
            if let Some(&best) = eligible.iter().min_by_key(|&&i| (count[i], i)) {
                owner.insert((topic, p), best);
                count[best] += 1;
            }
        }
    }
    // 3. Move partitions from the most to the least loaded eligible members until balanced.
    loop {
        let mut moved = false;
        let keys: Vec<(Uuid, i32)> = owner.keys().copied().collect();
        for key in keys {
            let from = owner[&key];
            let to = (0..members.len())
                .filter(|&i| members[i].topics.contains(&key.0))
                .min_by_key(|&i| (count[i], i));
            if let Some(to) = to {
                if count[to] + 1 < count[from] {
                    owner.insert(key, to);
                    count[from] -= 1;
                    count[to] += 1;
                    moved = true;
                }
            }
        }
        if !moved {
            break;
        }
    }
    let mut out: HashMap<String, Assignment> = members
        .iter()
        .map(|m| (m.id.to_string(), Assignment::new()))
        .collect();
    for ((topic, p), i) in owner {
        if let Some(a) = out.get_mut(members[i].id) {
            a.entry(topic).or_default().insert(p);
        }
    }
    out
}

/// Per topic, the subscribed members in id order take contiguous ranges; the first
/// `partitions % members` take one extra.
fn range(members: &[MemberSpec<'_>], topics: &BTreeMap<Uuid, i32>) -> HashMap<String, Assignment> {
    let mut out: HashMap<String, Assignment> = members
        .iter()
        .map(|m| (m.id.to_string(), Assignment::new()))
        .collect();
    for (&topic, &n) in topics {
        let mut subs: Vec<&str> = members
            .iter()
            .filter(|m| m.topics.contains(&topic))
            .map(|m| m.id)
            .collect();
        if subs.is_empty() {
            continue;
        }
        subs.sort_unstable();
        let (per, extra) = (n as usize / subs.len(), n as usize % subs.len());
        let mut next = 0i32;
        for (i, id) in subs.iter().enumerate() {
            let take = per + usize::from(i < extra);
            if take == 0 {
                continue;
            }
            let parts = out
                .entry(id.to_string())
                .or_default()
                .entry(topic)
                .or_default();
            for p in next..next + take as i32 {
                parts.insert(p);
            }
            next += take as i32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec<'a>(id: &'a str, topics: &[Uuid], previous: Option<&'a Assignment>) -> MemberSpec<'a> {
        MemberSpec {
            id,
            topics: topics.iter().copied().collect(),
            previous,
        }
    }

    fn sizes(a: &HashMap<String, Assignment>) -> Vec<usize> {
        let mut v: Vec<usize> = a
            .values()
            .map(|x| x.values().map(|s| s.len()).sum())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn uniform_balances_and_covers_every_partition_once() {
        let t = Uuid::new_v4();
        let topics = BTreeMap::from([(t, 12)]);
        let members = [
            spec("a", &[t], None),
            spec("b", &[t], None),
            spec("c", &[t], None),
        ];
        let out = assign("uniform", &members, &topics);
        assert_eq!(sizes(&out), vec![4, 4, 4]);
        let all: BTreeSet<i32> = out.values().flat_map(|a| a[&t].iter().copied()).collect();
        assert_eq!(all.len(), 12);
    }

    #[test]
    fn uniform_is_sticky_when_a_member_joins() {
        let t = Uuid::new_v4();
        let topics = BTreeMap::from([(t, 6)]);
        let first = assign(
            "uniform",
            &[spec("a", &[t], None), spec("b", &[t], None)],
            &topics,
        );
        let members = [
            spec("a", &[t], Some(&first["a"])),
            spec("b", &[t], Some(&first["b"])),
            spec("c", &[t], None),
        ];
        let second = assign("uniform", &members, &topics);
        assert_eq!(sizes(&second), vec![2, 2, 2]);
        // a and b only lose partitions, never swap.
        assert!(second["a"][&t].is_subset(&first["a"][&t]));
        assert!(second["b"][&t].is_subset(&first["b"][&t]));
    }

    #[test]
    fn range_gives_contiguous_ranges() {
        let t = Uuid::new_v4();
        let topics = BTreeMap::from([(t, 5)]);
        let out = assign(
            "range",
            &[spec("a", &[t], None), spec("b", &[t], None)],
            &topics,
        );
        assert_eq!(out["a"][&t], BTreeSet::from([0, 1, 2]));
        assert_eq!(out["b"][&t], BTreeSet::from([3, 4]));
    }
}
