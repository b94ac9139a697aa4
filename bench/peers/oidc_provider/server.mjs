// The peer of bench/tokens.py: panva's oidc-provider (OpenID Certified), set up to issue RS256
// JWT access tokens, as Tenantry does.
//
//   PORT=9090 WORKERS=1 node server.mjs      -> prints "READY http://127.0.0.1:9090" when serving
//
// - Client "bench-cc" (secret "bench-cc-secret"): client_credentials only. With resourceIndicators
//   and a default resource, its tokens are JWTs (RS256) for that resource, not opaque tokens.
// - Client "bench-rp" (secret "bench-rp-secret"): authorization_code + refresh_token, redirect
//   https://app.test/callback. Its first refresh token comes from a login through the built-in dev
//   interaction pages (any login name; the password is not checked). Refresh tokens are rotated
//   on every use (Tenantry always rotates), and each refresh returns a JWT access token for the
//   resource and an ID token, the two signatures Tenantry's refresh grant makes too.
// - WORKERS > 1: node:cluster with that many worker processes (Node runs JavaScript on one
//   thread, so one process per core). They share one RSA key, made by the primary, and one store:
//   the stock in-memory adapter runs in the primary and the workers reach it over cluster IPC (a
//   stand-in for the shared Redis a multi-process deployment would use). With one worker there is
//   no cluster and the stock in-memory adapter runs in the process itself.
import cluster from 'node:cluster';
import { generateKeyPairSync } from 'node:crypto';

import Provider from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';

const PORT = Number(process.env.PORT || 9090);
const WORKERS = Math.max(1, Number(process.env.WORKERS || 1));
const ISSUER = `http://127.0.0.1:${PORT}`;
const RESOURCE = 'urn:tenantry-bench:api';
const ADAPTER_METHODS = ['upsert', 'find', 'findByUid', 'findByUserCode', 'consume', 'destroy', 'revokeByGrantId'];

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: 'bench-rs256', use: 'sig', alg: 'RS256' };
}

// ------------------------------------------------------------------ shared store over cluster IPC

let sequence = 0;
const pending = new Map();

class IpcAdapter {
  constructor(model) {
    this.model = model;
  }

  call(op, args) {
    return new Promise((resolve, reject) => {
      sequence += 1;
      pending.set(sequence, { resolve, reject });
      process.send({ adapter: true, id: sequence, model: this.model, op, args });
    });
  }
}
for (const op of ADAPTER_METHODS) {
  IpcAdapter.prototype[op] = function proxied(...args) {
    return this.call(op, args);
  };
}

function serveStore(worker) {
  const adapters = new Map();
  worker.on('message', async (message) => {
    if (!message || !message.adapter) return;
    let adapter = adapters.get(message.model);
    if (!adapter) {
      adapter = new MemoryAdapter(message.model);
      adapters.set(message.model, adapter);
    }
    try {
      const result = await adapter[message.op](...message.args);
      worker.send({ adapter: true, id: message.id, result });
    } catch (error) {
      worker.send({ adapter: true, id: message.id, error: String(error) });
    }
  });
}

// ------------------------------------------------------------------ the provider

function provider(jwk, adapter) {
  return new Provider(ISSUER, {
    adapter,
    jwks: { keys: [jwk] },
    cookies: { keys: ['tenantry-bench-cookie-key-not-a-secret'] },
    clients: [
      {
        client_id: 'bench-cc',
        client_secret: 'bench-cc-secret',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: 'bench-rp',
        client_secret: 'bench-rp-secret',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: ['https://app.test/callback'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    pkce: { required: () => true },
    scopes: ['openid', 'offline_access', 'email', 'profile'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['given_name', 'family_name'] },
    findAccount: async (ctx, id) => ({
      accountId: id,
      claims: async () => ({ sub: id, email: `${id}@example.com`, email_verified: true, given_name: 'Bench' }),
    }),
    ttl: { AccessToken: 3600, ClientCredentials: 3600, IdToken: 3600 },
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: () => true,
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => RESOURCE,
        useGrantedResource: async () => true,
        getResourceServerInfo: async () => ({
          scope: 'api',
          audience: RESOURCE,
          accessTokenTTL: 3600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
  });
}

function serve(jwk, adapter) {
  const server = provider(jwk, adapter).listen(PORT, '127.0.0.1');
  server.keepAliveTimeout = 65_000;
  return server;
}

if (WORKERS === 1) {
  serve(signingKey(), undefined).on('listening', () => console.log(`READY ${ISSUER}`));
} else if (cluster.isPrimary) {
  const env = { BENCH_JWK: JSON.stringify(signingKey()) };
  let listening = 0;
  for (let i = 0; i < WORKERS; i += 1) serveStore(cluster.fork(env));
  cluster.on('listening', () => {
    listening += 1;
    if (listening === WORKERS) console.log(`READY ${ISSUER} (${WORKERS} workers)`);
  });
  cluster.on('exit', (worker, code, signal) => {
    console.error(`worker ${worker.process.pid} exited (${signal || code})`);
  });
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => {
      for (const worker of Object.values(cluster.workers)) worker.kill();
      process.exit(0);
    });
  }
} else {
  process.on('message', (message) => {
    if (!message || !message.adapter) return;
    const waiting = pending.get(message.id);
    if (!waiting) return;
    pending.delete(message.id);
    if (message.error) waiting.reject(new Error(message.error));
    else waiting.resolve(message.result);
  });
  serve(JSON.parse(process.env.BENCH_JWK), IpcAdapter);
}
