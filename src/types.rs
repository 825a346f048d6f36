//! Request and response types, generated from `spec/` at build time, plus names for the open
//! enums: each is an [`Open`] of its known values (`Known(..)`, or `Other(text)` for a value
//! Graph added since). Date-times are [`Timestamp`]s.

pub use crate::generated::types::*;
pub use crate::open::Open;
pub use crate::timestamp::Timestamp;

/// Who may admit people from the lobby.
pub type AllowedLobbyAdmitterRoles = Open<KnownAllowedLobbyAdmitterRoles>;
/// The format of an [`ItemBody`].
pub type BodyType = Open<KnownBodyType>;
/// Who bypasses the lobby.
pub type LobbyBypassScope = Open<KnownLobbyBypassScope>;
/// How chat history is shared by default.
pub type MeetingChatHistoryDefaultMode = Open<KnownMeetingChatHistoryDefaultMode>;
/// Whether meeting chat is on.
pub type MeetingChatMode = Open<KnownMeetingChatMode>;
/// Whether Live Share is on.
pub type MeetingLiveShareOptions = Open<KnownMeetingLiveShareOptions>;
/// A participant's role.
pub type OnlineMeetingRole = Open<KnownOnlineMeetingRole>;
/// Who can present.
pub type OnlineMeetingPresenters = Open<KnownOnlineMeetingPresenters>;
