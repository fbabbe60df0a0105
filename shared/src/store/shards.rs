//! Shards of the hot report counters. Every application and every move adds to the same few counter
//! items (a job's day, funnel and stage counts, its time-in-stage histograms, the demographic and
//! campaign counts), in the transaction of the change; two transactions that touch one item at the
//! same time cancel each other. So each such counter is spread over `COUNTER_SHARDS` items and one
//! transaction adds to one of them, chosen per write: two writes then meet on an item once in N.
//!
//! Shard 0 is the counter's original sort key, unchanged (data written before sharding, or with
//! `COUNTER_SHARDS=1`, is shard 0); shard `k > 0` appends `#<k>`. No label in a counter key (a
//! channel, a source, a stage id, a demographic answer) holds `#`, and `exact` and `STAGE` are no
//! numbers, so no two counters share a key; `#` and digits sort before `~`, the upper bound of every
//! range read, so a shard lies in each range its shard 0 lies in. Readers take the labels from the
//! items' attributes, never from the key, and sum the shards they read in the same one query, so the
//! number of shards may change at any time.
use super::Store;
use std::hash::BuildHasher;

/// The most shards a counter is spread over (`COUNTER_SHARDS` is checked against it too).
pub(super) const MAX_SHARDS: u32 = 64;

/// One shard of a counter, `0..COUNTER_SHARDS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Shard(u32);

impl Shard {
    /// The shard a write adds to, from a text unique to the write (FNV-1a): the same write, retried,
    /// lands on the same shard, and different writes spread evenly.
    pub(super) fn of(unique: &str, shards: u32) -> Shard {
        let hash =
            unique.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        Shard((hash % u64::from(shards.max(1))) as u32)
    }

    /// Any shard, at random: for a counter written outside a transaction with nothing unique at hand.
    pub(super) fn any(shards: u32) -> Shard {
        let random = std::collections::hash_map::RandomState::new().hash_one(0u8);
        Shard((random % u64::from(shards.max(1))) as u32)
    }

    /// This shard's sort key of the counter whose shard-0 key is `base`.
    pub(super) fn sk(self, base: impl std::fmt::Display) -> String {
        match self.0 {
            0 => base.to_string(),
            k => format!("{base}#{k}"),
        }
    }
}

impl Store {
    /// The shard of this store's counters that a write unique by `unique` adds to.
    pub(super) fn shard(&self, unique: &str) -> Shard {
        Shard::of(unique, self.shards)
    }

    /// The shard an application's creation (`version` 0) or its move from `version` adds to: every
    /// counter of the transaction on one shard. The move's is known when its context is read.
    pub(super) fn application_shard(&self, id: &crate::ids::ApplicationId, version: u64) -> Shard {
        self.shard(&format!("{id}@{version}"))
    }

    /// A random shard of this store's counters.
    pub(super) fn any_shard(&self) -> Shard {
        Shard::any(self.shards)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn shard_zero_is_the_unsharded_key_and_others_add_a_suffix() {
        assert_eq!(Shard(0).sk("FUNNEL#2026-03-02"), "FUNNEL#2026-03-02");
        assert_eq!(Shard(7).sk("FUNNEL#2026-03-02"), "FUNNEL#2026-03-02#7");
        assert_eq!(Shard(63).sk("TIS#screen#exact"), "TIS#screen#exact#63");
    }

    #[test]
    fn one_shard_is_always_shard_zero() {
        for id in ["a", "01J0000000000000000000000@3", ""] {
            assert_eq!(Shard::of(id, 1), Shard(0));
            assert_eq!(Shard::of(id, 0), Shard(0), "0 is taken as 1");
        }
        assert!((0..100).all(|_| Shard::any(1) == Shard(0)));
    }

    #[test]
    fn writes_spread_over_every_shard_and_repeat_their_choice() {
        let mut seen: BTreeMap<u32, u32> = BTreeMap::new();
        for n in 0..8000 {
            let id = format!("{}@{}", ulid::Ulid::from_parts(1_700_000_000_000 + n, u128::from(n) * 7919), n % 5);
            let s = Shard::of(&id, 8);
            assert_eq!(s, Shard::of(&id, 8), "deterministic");
            *seen.entry(s.0).or_default() += 1;
        }
        assert_eq!(seen.keys().copied().collect::<Vec<_>>(), (0..8).collect::<Vec<_>>());
        assert!(seen.values().all(|&c| (800..1200).contains(&c)), "about even: {seen:?}");
        let random: std::collections::BTreeSet<u32> = (0..400).map(|_| Shard::any(8).0).collect();
        assert!(random.len() > 4, "random choices spread too: {random:?}");
    }

    #[test]
    fn every_shard_stays_inside_the_ranges_readers_query() {
        // The readers' bounds: a shard of an item in range is in range, one out is out.
        let day = |d: &str| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
        let between = |sk: &str, kind: &str| {
            let (from, to) = super::super::counters::days_between(kind, day("2026-03-01"), day("2026-03-05"));
            (from.as_str()..=to.as_str()).contains(&sk)
        };
        for k in [0, 1, 9, 10, 63] {
            let s = Shard(k);
            assert!(between(&s.sk("DAY#2026-03-05#job_board#indeed"), "DAY"));
            assert!(between(&s.sk("DAY#2026-03-01#referral#z.z-9_"), "DAY"));
            assert!(!between(&s.sk("DAY#2026-03-06#direct#careers"), "DAY"));
            assert!(!between(&s.sk("DAY#2026-02-28#unattributed#direct"), "DAY"));
            assert!(between(&s.sk("FUNNEL#2026-03-05"), "FUNNEL"));
            assert!(between(&s.sk("FUNNEL#2026-03-01"), "FUNNEL"));
            assert!(!between(&s.sk("FUNNEL#2026-03-06"), "FUNNEL"));
            assert!(!between(&s.sk("FUNNEL#2026-02-28"), "FUNNEL"));
            // Stage entries lie in their day's range; the funnel reads on to the job's stage list, after
            // every day, when its range ends today.
            assert!(between(&s.sk("FUNNEL#2026-03-05#STAGE#screen"), "FUNNEL"));
            assert!(between(&s.sk("FUNNEL#2026-03-01#STAGE#7"), "FUNNEL"));
            assert!(!between(&s.sk("FUNNEL#2026-03-06#STAGE#screen"), "FUNNEL"));
            assert!(!between(&s.sk("FUNNEL#2026-02-28#STAGE#screen"), "FUNNEL"));
            assert!(s.sk("FUNNEL#2099-12-31#STAGE#screen").as_str() < super::super::funnel::STAGES);
            for prefix in [("TIS#", "TIS#screen"), ("TIS#", "TIS#screen#exact"), ("EEO#", "EEO#gender#female")] {
                assert!(s.sk(prefix.1).starts_with(prefix.0));
            }
            assert!(s.sk("TOTALS").starts_with("TOTALS"));
        }
    }
}
