//! Schedules: what the administrator writes ([`Schedule`]) and when it runs
//! ([`SchedulePlan`]).

mod plan;
mod spec;

pub use plan::{ScheduleError, SchedulePlan, Upcoming};
pub use spec::{DailyTimes, IntervalMinutes, LocalDateTime, LocalTime, Schedule, Weekday, When};
