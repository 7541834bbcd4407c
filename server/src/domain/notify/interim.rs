//! Placeholder e-mail rendering until the templates land (replaced by
//! `email`; this file is deleted then).

use super::Notice;

fn subject(n: &Notice) -> String {
    super::render::subject(n)
}

pub struct Mail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub fn machine_alert(n: &Notice) -> Mail {
    Mail {
        subject: subject(n),
        text: subject(n),
        html: format!("<p>{}</p>", subject(n)),
    }
}
