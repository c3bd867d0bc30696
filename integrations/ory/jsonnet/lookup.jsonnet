// vouch lookup hook: registration.after with response.parse: true, so Kratos runs it
// before the identity is persisted and applies (or refuses) what vouch answers.
// Sends the phone trait, the traits (vouch fills empty name fields from the operator's
// record) and the public metadata (vouch adds its "vouch" key; Kratos replaces the
// whole field, so the rest is sent back unchanged).
function(ctx)
  local identity = if std.objectHas(ctx, 'identity') then ctx.identity else {};
  local traits = if std.objectHas(identity, 'traits') then identity.traits else {};
  {
    identity_id: if std.objectHas(identity, 'id') then identity.id else null,
    phone_number: if std.objectHas(traits, 'phone') then traits.phone else null,
    traits: traits,
    metadata_public: if std.objectHas(identity, 'metadata_public') then identity.metadata_public else null,
  }
