// A real OpenID Provider for the SSO tests: panva's oidc-provider (OpenID Certified), in memory.
//
// Environment:
//   PORT            port on 127.0.0.1 (required)
//   ISSUER          issuer URL (default http://127.0.0.1:$PORT)
//   CLIENT_ID, CLIENT_SECRET, RP_REDIRECT
//                   an optional static client (RP_REDIRECT: comma-separated redirect URIs);
//                   tests usually register their relying parties with dynamic client
//                   registration instead (POST /reg), since redirect URIs name the provider id
//   USERS_FILE      JSON file {accountId: {email, email_verified, given_name, family_name, groups}}.
//                   It is read again on every account lookup, so a test changes a user's
//                   attributes or groups between two logins by rewriting the file.
// The dev interaction pages (/interaction/:uid) sign in whoever's accountId is typed as login.
import fs from 'node:fs';
import Provider from 'oidc-provider';

const PORT = Number(process.env.PORT);
if (!PORT) throw new Error('PORT is required');
const ISSUER = process.env.ISSUER || `http://127.0.0.1:${PORT}`;
const USERS_FILE = process.env.USERS_FILE;

function users() {
  if (!USERS_FILE) return {};
  return JSON.parse(fs.readFileSync(USERS_FILE, 'utf8'));
}

const clients = [];
if (process.env.CLIENT_ID) {
  clients.push({
    client_id: process.env.CLIENT_ID,
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: (process.env.RP_REDIRECT || '').split(',').filter(Boolean),
    grant_types: ['authorization_code'],
    response_types: ['code'],
  });
}

const provider = new Provider(ISSUER, {
  clients,
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['given_name', 'family_name', 'name'],
    groups: ['groups'],
  },
  // The scope claims go into the ID token too, as Okta and Entra ID can be configured to do.
  conformIdTokenClaims: false,
  findAccount: async (ctx, id) => {
    const user = users()[id];
    if (!user) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...user }) };
  },
  cookies: { keys: ['tenantry-test-idp-cookie-key'] },
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true },
    registrationManagement: { enabled: true, rotateRegistrationAccessToken: false },
  },
  ttl: { Session: 3600, Interaction: 600, Grant: 3600, AccessToken: 600, AuthorizationCode: 60, IdToken: 600 },
});

provider.listen(PORT, '127.0.0.1', () => console.log(`READY ${ISSUER}`));
