// vouch validate hook: login.after with response.parse: true, so vouch can stop the
// sign-in. Kratos gives after-hooks the identity (without metadata_admin: vouch finds
// the enrolment by the identity id it was enrolled under).
function(ctx)
  local identity = if std.objectHas(ctx, 'identity') then ctx.identity else {};
  local traits = if std.objectHas(identity, 'traits') then identity.traits else {};
  {
    identity_id: if std.objectHas(identity, 'id') then identity.id else null,
    phone_number: if std.objectHas(traits, 'phone') then traits.phone else null,
  }
