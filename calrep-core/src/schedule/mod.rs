//! Schedules: what the administrator writes ([`Schedule`]) and when it runs
//! ([`SchedulePlan`]).

mod plan;
mod spec;
pub(crate) mod wall_clock;

pub use plan::{ScheduleError, SchedulePlan, Upcoming};
pub use spec::{DailyTimes, IntervalMinutes, LocalDateTime, LocalTime, Schedule, Weekday, When};
