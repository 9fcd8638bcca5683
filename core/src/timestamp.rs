//! Instants in whole seconds since the Unix epoch (UTC), for ages: when an image was pushed
//! or last pulled, and the `now` a retention plan is made at. Read from and written as
//! RFC 3339; the domain never reads the clock (the caller passes `now`).

use std::fmt;

use crate::date::Date;

/// Seconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

/// Seconds in a day.
pub const DAY: i64 = 86_400;

impl Timestamp {
    /// The clock's time, to the second.
    pub fn now() -> Self {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self(i64::try_from(seconds).unwrap_or(i64::MAX))
    }

    /// Reads an RFC 3339 date-time (`2026-11-20T09:41:07Z`, fractions and offsets allowed);
    /// `None` for anything else.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        if !crate::labels::is_rfc3339(text) {
            return None;
        }
        let date = Date::parse(text.get(..10)?)?;
        let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
        let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
        let rest = text.get(19..)?;
        let rest = rest.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
        let offset = match rest.as_bytes() {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), ..] => {
                let hours: i64 = rest.get(1..3)?.parse().ok()?;
                let minutes: i64 = rest.get(4..6)?.parse().ok()?;
                let magnitude = hours * 3600 + minutes * 60;
                if *sign == b'+' {
                    magnitude
                } else {
                    -magnitude
                }
            }
            _ => return None,
        };
        let days = days_from_civil(date);
        Some(Self(
            days * DAY + hour * 3600 + minute * 60 + second.min(59) - offset,
        ))
    }

    /// Whole days from `self` until `later` (0 when `later` is not later).
    pub fn days_until(self, later: Timestamp) -> i64 {
        (later.0 - self.0).max(0) / DAY
    }

    /// `days` days before `self`.
    pub fn minus_days(self, days: u32) -> Timestamp {
        Timestamp(self.0 - i64::from(days) * DAY)
    }

    /// The calendar day (UTC).
    pub fn date(self) -> Date {
        Date::from_days_since_epoch(self.0.div_euclid(DAY))
    }
}

/// Days since 1970-01-01 of a date (Howard Hinnant's days-from-civil).
fn days_from_civil(date: Date) -> i64 {
    let year = i64::from(date.year) - i64::from(date.month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month = i64::from(date.month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(date.day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC, to the second: `2026-11-20T09:41:07Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0.rem_euclid(DAY);
        write!(
            f,
            "{}T{:02}:{:02}:{:02}Z",
            self.date(),
            seconds / 3600,
            seconds % 3600 / 60,
            seconds % 60
        )
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_rfc3339() {
        let t = Timestamp::parse_rfc3339("2026-11-20T09:41:07Z").expect("valid");
        assert_eq!(t.to_string(), "2026-11-20T09:41:07Z");
        assert_eq!(
            Timestamp::parse_rfc3339("1970-01-01T00:00:00Z"),
            Some(Timestamp(0))
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2026-11-20T10:41:07.250+01:00"),
            Some(t)
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2024-02-29T00:00:00Z").map(|t| t.date().to_string()),
            Some("2024-02-29".into())
        );
        for bad in ["2026-11-20", "yesterday", "2026-11-20T09:41:07"] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn ages_in_whole_days() {
        let t = Timestamp(10 * DAY + 5);
        assert_eq!(Timestamp(0).days_until(t), 10);
        assert_eq!(t.days_until(Timestamp(0)), 0);
        assert_eq!(t.minus_days(10), Timestamp(5));
    }
}
