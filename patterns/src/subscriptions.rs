//! A counted set of subscription prefixes, as PUB/XPUB keep per subscriber and
//! SUB/XSUB keep for themselves.

use ahash::AHashMap;
use bytes::Bytes;

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
    /// How many distinct prefixes have each length, sorted by length.
    lengths: Vec<(usize, usize)>,
}

impl SubscriptionSet {
    /// Adds one subscription to `prefix`; true if the prefix is new.
    pub fn add(&mut self, prefix: &[u8]) -> bool {
        if let Some(count) = self.counts.get_mut(prefix) {
            *count += 1;
            return false;
        }
        self.counts.insert(Bytes::copy_from_slice(prefix), 1);
        match self
            .lengths
            .binary_search_by_key(&prefix.len(), |&(l, _)| l)
        {
            Ok(i) => self.lengths[i].1 += 1,
            Err(i) => self.lengths.insert(i, (prefix.len(), 1)),
        }
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
        if let Ok(i) = self
            .lengths
            .binary_search_by_key(&prefix.len(), |&(l, _)| l)
        {
            self.lengths[i].1 -= 1;
            if self.lengths[i].1 == 0 {
                self.lengths.remove(i);
            }
        }
        true
    }

    /// True if some subscribed prefix is a prefix of `topic`.
    pub fn matches(&self, topic: &[u8]) -> bool {
        self.lengths
            .iter()
            .take_while(|&&(len, _)| len <= topic.len())
            .any(|&(len, _)| self.counts.contains_key(&topic[..len]))
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
