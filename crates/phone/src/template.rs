//! The SMS text. A customer may pass `smsMessage` (≤ 160 characters): for an OTP it must
//! hold one run of 4 to 6 `#`, which becomes the code and sets its length; for an
//! Instant Link `{link}` marks where the link goes (else it is appended). Templates are
//! plain text: no control characters, no links of their own, no other placeholders, so
//! a compromised integration cannot turn vouch's sender into a phishing relay.

/// Longest template, as the phone API documents.
pub const MAX_TEMPLATE_CHARS: usize = 160;

/// Default OTP message.
pub const DEFAULT_OTP: &str =
    "Your verification code is ######. It expires in 2 minutes. Never share it.";
/// Default Instant Link message.
pub const DEFAULT_LINK: &str = "Tap to verify your phone number: {link} (expires in 3 minutes)";

/// Why a template was refused; safe to return to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// Over 160 characters.
    #[error("smsMessage is longer than {MAX_TEMPLATE_CHARS} characters")]
    TooLong,
    /// Control characters (newlines excepted).
    #[error("smsMessage contains control characters")]
    ControlCharacters,
    /// Contains a link or domain of its own.
    #[error("smsMessage may not contain links; vouch adds the Instant Link itself")]
    ContainsLink,
    /// The OTP placeholder is missing or malformed.
    #[error("smsMessage must contain one run of 4 to 6 '#' where the code goes (e.g. ######)")]
    BadPlaceholder,
}

/// A checked template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(String);

fn hash_runs(s: &str) -> Vec<usize> {
    let mut runs = Vec::new();
    let mut n = 0;
    for c in s.chars() {
        if c == '#' {
            n += 1;
        } else if n > 0 {
            runs.push(n);
            n = 0;
        }
    }
    if n > 0 {
        runs.push(n);
    }
    runs
}

fn check_common(s: &str) -> Result<(), TemplateError> {
    if s.chars().count() > MAX_TEMPLATE_CHARS {
        return Err(TemplateError::TooLong);
    }
    if s.chars().any(|c| c.is_control() && c != '\n') {
        return Err(TemplateError::ControlCharacters);
    }
    let lower = s.to_ascii_lowercase();
    if lower.contains("://") || lower.contains("www.") || lower.contains("http") {
        return Err(TemplateError::ContainsLink);
    }
    Ok(())
}

impl Template {
    /// An OTP template: one run of 4–6 `#`.
    pub fn otp(s: Option<&str>) -> Result<Template, TemplateError> {
        let s = s.unwrap_or(DEFAULT_OTP);
        check_common(s)?;
        match hash_runs(s).as_slice() {
            [n] if (4..=6).contains(n) => Ok(Template(s.to_string())),
            _ => Err(TemplateError::BadPlaceholder),
        }
    }

    /// An Instant Link template: no `#` runs; `{link}` optional.
    pub fn link(s: Option<&str>) -> Result<Template, TemplateError> {
        let s = s.unwrap_or(DEFAULT_LINK);
        check_common(s)?;
        Ok(Template(s.to_string()))
    }

    /// The code length an OTP template asks for.
    pub fn code_digits(&self) -> usize {
        hash_runs(&self.0).first().copied().unwrap_or(6)
    }

    /// The OTP message with `code` in place of the `#` run.
    pub fn render_otp(&self, code: &str) -> String {
        let n = self.code_digits();
        self.0.replacen(&"#".repeat(n), code, 1)
    }

    /// The link message with `link` in place of `{link}`, or appended.
    pub fn render_link(&self, link: &str) -> String {
        if self.0.contains("{link}") {
            self.0.replacen("{link}", link, 1)
        } else {
            format!("{} {link}", self.0.trim_end())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otp_templates_set_code_length() {
        let t = Template::otp(Some("Code: #### for Acme")).expect("ok");
        assert_eq!(t.code_digits(), 4);
        assert_eq!(t.render_otp("1234"), "Code: 1234 for Acme");
        let d = Template::otp(None).expect("default");
        assert_eq!(d.code_digits(), 6);
        assert!(d.render_otp("123456").contains("123456"));
    }

    #[test]
    fn unsafe_or_malformed_templates_are_refused() {
        assert_eq!(
            Template::otp(Some("no code")),
            Err(TemplateError::BadPlaceholder)
        );
        assert_eq!(
            Template::otp(Some("### short")),
            Err(TemplateError::BadPlaceholder)
        );
        assert_eq!(
            Template::otp(Some("#### and ####")),
            Err(TemplateError::BadPlaceholder)
        );
        assert_eq!(
            Template::otp(Some("go to https://evil.example ####")),
            Err(TemplateError::ContainsLink)
        );
        assert_eq!(
            Template::otp(Some("a\u{7}####")),
            Err(TemplateError::ControlCharacters)
        );
        assert_eq!(
            Template::link(Some(&"x".repeat(161))),
            Err(TemplateError::TooLong)
        );
    }

    #[test]
    fn link_templates_place_or_append_the_link() {
        let t = Template::link(Some("Verify: {link}")).expect("ok");
        assert_eq!(t.render_link("http://v/l/abc"), "Verify: http://v/l/abc");
        let t = Template::link(Some("Acme verification")).expect("ok");
        assert_eq!(
            t.render_link("http://v/l/abc"),
            "Acme verification http://v/l/abc"
        );
    }
}
