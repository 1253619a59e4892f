//! A counted set of subscription prefixes, as PUB/XPUB keep per subscriber and
//! SUB/XSUB keep for themselves.

use ahash::AHashMap;
use bytes::Bytes;

/// The lengths of the distinct prefixes in use, with how many prefixes have each: a
/// topic can only match a prefix of one of these lengths.
#[derive(Debug, Default, Clone)]
struct PrefixLengths(Vec<(usize, usize)>);

impl PrefixLengths {
    fn add(&mut self, len: usize) {
        match self.0.binary_search_by_key(&len, |&(l, _)| l) {
            Ok(i) => self.0[i].1 += 1,
            Err(i) => self.0.insert(i, (len, 1)),
        }
    }

    fn remove(&mut self, len: usize) {
        if let Ok(i) = self.0.binary_search_by_key(&len, |&(l, _)| l) {
            self.0[i].1 -= 1;
            if self.0[i].1 == 0 {
                self.0.remove(i);
            }
        }
    }

    /// The prefixes of `topic` that could be subscribed, shortest first.
    fn prefixes_of<'a>(&'a self, topic: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.0
            .iter()
            .take_while(move |&&(len, _)| len <= topic.len())
            .map(move |&(len, _)| &topic[..len])
    }
}

/// Topic prefixes with counts: subscribing twice and cancelling once leaves the
/// prefix subscribed. Matching looks up each prefix length in use, so its cost
/// depends on the message's length, not on the number of subscriptions.
///
/// ```
/// use monocoque::SubscriptionSet;
/// let mut subs = SubscriptionSet::default();
/// subs.add(b"temp.");
/// assert!(subs.matches(b"temp.paris 21"));
/// assert!(!subs.matches(b"wind.paris"));
/// ```
#[derive(Debug, Default, Clone)]
pub struct SubscriptionSet {
    counts: AHashMap<Bytes, usize>,
    lengths: PrefixLengths,
}

impl SubscriptionSet {
    /// Adds one subscription to `prefix`; true if the prefix is new.
    pub fn add(&mut self, prefix: &[u8]) -> bool {
        if let Some(count) = self.counts.get_mut(prefix) {
            *count += 1;
            return false;
        }
        self.counts.insert(Bytes::copy_from_slice(prefix), 1);
        self.lengths.add(prefix.len());
        true
    }

    /// Removes one subscription to `prefix`; true if the prefix is now gone.
    pub fn remove(&mut self, prefix: &[u8]) -> bool {
        let Some(count) = self.counts.get_mut(prefix) else {
            return false;
        };
        *count -= 1;
        if *count > 0 {
            return false;
        }
        self.counts.remove(prefix);
        self.lengths.remove(prefix.len());
        true
    }

    /// True if some subscribed prefix is a prefix of `topic`.
    pub fn matches(&self, topic: &[u8]) -> bool {
        self.lengths
            .prefixes_of(topic)
            .any(|p| self.counts.contains_key(p))
    }

    /// True if `prefix` itself is subscribed.
    pub fn contains(&self, prefix: &[u8]) -> bool {
        self.counts.contains_key(prefix)
    }

    /// True when nothing is subscribed.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// The distinct prefixes.
    pub fn prefixes(&self) -> impl Iterator<Item = &Bytes> {
        self.counts.keys()
    }

    /// Each distinct prefix with its count.
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, usize)> {
        self.counts.iter().map(|(k, &v)| (k, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_subscriptions() {
        let mut s = SubscriptionSet::default();
        assert!(s.add(b"A"));
        assert!(!s.add(b"A"));
        assert!(!s.remove(b"A"));
        assert!(s.matches(b"AB"));
        assert!(s.remove(b"A"));
        assert!(!s.matches(b"AB"));
        assert!(!s.remove(b"A"));
    }

    #[test]
    fn empty_prefix_matches_everything() {
        let mut s = SubscriptionSet::default();
        s.add(b"");
        assert!(s.matches(b""));
        assert!(s.matches(b"anything"));
    }

    #[test]
    fn prefix_longer_than_topic_does_not_match() {
        let mut s = SubscriptionSet::default();
        s.add(b"ABCDEF");
        s.add(b"X");
        assert!(!s.matches(b"ABC"));
        assert!(s.matches(b"ABCDEFG"));
        assert!(s.matches(b"X"));
    }
}

/// For a publisher: which subscribers hold each prefix. A message's topic is matched
/// by looking up each prefix length in use, so publishing costs a few hash lookups
/// plus one queue push per matching subscriber, however many subscribers do not match.
#[derive(Default)]
pub(crate) struct SubscriberIndex {
    by_prefix: AHashMap<Bytes, smallvec::SmallVec<[std::rc::Rc<monocoque_runtime::Peer>; 4]>>,
    lengths: PrefixLengths,
}

impl SubscriberIndex {
    /// Records that `peer` subscribes to `prefix` (at most once per pair).
    pub fn add(&mut self, prefix: &Bytes, peer: &std::rc::Rc<monocoque_runtime::Peer>) {
        if !self.by_prefix.contains_key(prefix) {
            self.lengths.add(prefix.len());
        }
        let peers = self.by_prefix.entry(prefix.clone()).or_default();
        if !peers.iter().any(|p| p.id() == peer.id()) {
            peers.push(std::rc::Rc::clone(peer));
        }
    }

    /// Forgets that `peer` subscribes to `prefix`.
    pub fn remove(&mut self, prefix: &[u8], peer: monocoque_runtime::PeerId) {
        let Some(peers) = self.by_prefix.get_mut(prefix) else {
            return;
        };
        peers.retain(|p| p.id() != peer);
        if !peers.is_empty() {
            return;
        }
        self.by_prefix.remove(prefix);
        self.lengths.remove(prefix.len());
    }

    /// Calls `f` once for every subscriber with a prefix of `topic`.
    pub fn for_each_match(&self, topic: &[u8], mut f: impl FnMut(&monocoque_runtime::Peer)) {
        let mut hits = self
            .lengths
            .prefixes_of(topic)
            .filter_map(|p| self.by_prefix.get(p));
        let Some(first) = hits.next() else { return };
        let Some(second) = hits.next() else {
            // One matching prefix: its subscribers are distinct.
            first.iter().for_each(|p| f(p));
            return;
        };
        // Several matching prefixes: a subscriber holding more than one gets one copy.
        let mut seen: smallvec::SmallVec<[monocoque_runtime::PeerId; 32]> =
            smallvec::SmallVec::new();
        for peers in [first, second].into_iter().chain(hits) {
            for p in peers {
                if !seen.contains(&p.id()) {
                    seen.push(p.id());
                    f(p);
                }
            }
        }
    }
}

#[cfg(test)]
mod index_tests {
    use std::rc::Rc;

    use bytes::Bytes;
    use monocoque_runtime::{Notify, Peer};

    use super::SubscriberIndex;

    fn peer(id: u64) -> Rc<Peer> {
        Rc::new(Peer::new(id, String::new(), 0, Rc::new(Notify::new())))
    }

    fn matches(index: &SubscriberIndex, topic: &[u8]) -> Vec<u64> {
        let mut ids = Vec::new();
        index.for_each_match(topic, |p| ids.push(p.id()));
        ids.sort();
        ids
    }

    #[test]
    fn each_matching_subscriber_once() {
        let (a, b, c) = (peer(1), peer(2), peer(3));
        let mut index = SubscriberIndex::default();
        index.add(&Bytes::from_static(b"ab"), &a);
        index.add(&Bytes::from_static(b"a"), &a);
        index.add(&Bytes::from_static(b"abc"), &b);
        index.add(&Bytes::from_static(b""), &c);
        index.add(&Bytes::from_static(b"ab"), &a);
        assert_eq!(matches(&index, b"abcd"), vec![1, 2, 3]);
        assert_eq!(matches(&index, b"ab"), vec![1, 3]);
        assert_eq!(matches(&index, b"x"), vec![3]);
        index.remove(b"", 3);
        index.remove(b"a", 1);
        assert_eq!(matches(&index, b"abcd"), vec![1, 2]);
        index.remove(b"ab", 1);
        assert_eq!(matches(&index, b"ab"), Vec::<u64>::new());
        assert_eq!(matches(&index, b"abc"), vec![2]);
    }
}
