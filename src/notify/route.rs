//! Routing: which events a notifier takes (its `kinds`, `blogs`, `match` and `exclude`
//! settings). The config parses them into a [`Filter`]; delivery asks it.

use crate::model::{Event, EventKind};

/// Which events a notifier takes.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `None` = all kinds.
    pub kinds: Option<Vec<EventKind>>,
    /// Blog URLs or names; `None` = all blogs.
    pub blogs: Option<Vec<String>>,
    pub matches: Option<regex::Regex>,
    pub exclude: Option<regex::Regex>,
}

impl Filter {
    /// Does this filter let `event` through?
    pub fn accepts(&self, event: &Event) -> bool {
        if let Some(kinds) = &self.kinds {
            if !kinds.contains(&event.kind) {
                return false;
            }
        }
        if let Some(blogs) = &self.blogs {
            let name = event.blog.title.as_deref().unwrap_or("");
            if !blogs.iter().any(|b| b == &event.blog.url || b == name) {
                return false;
            }
        }
        let text = || match &event.post {
            Some(p) => format!("{}\n{}", p.headline.as_deref().unwrap_or(""), p.body),
            None => event.message.clone().unwrap_or_default(),
        };
        if let Some(re) = &self.matches {
            if !re.is_match(&text()) {
                return false;
            }
        }
        if let Some(re) = &self.exclude {
            if re.is_match(&text()) {
                return false;
            }
        }
        true
    }
}
