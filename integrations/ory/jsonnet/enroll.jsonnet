// vouch enroll hook: registration.after without response.parse, so Kratos runs it after
// the identity is persisted (its id is final). vouch enrols the phone and writes
// prove_identity_id / vouch_identity_id into metadata_admin through the admin API.
function(ctx)
  local identity = if std.objectHas(ctx, 'identity') then ctx.identity else {};
  local traits = if std.objectHas(identity, 'traits') then identity.traits else {};
  {
    identity_id: if std.objectHas(identity, 'id') then identity.id else null,
    phone_number: if std.objectHas(traits, 'phone') then traits.phone else null,
  }
