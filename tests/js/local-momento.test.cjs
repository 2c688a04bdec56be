// The official Momento JavaScript SDK (@gomomento/sdk) against `pollcast local-momento`,
// configured exactly as README.md tells users to. Run by scripts/test with node's test runner:
//   POLLCAST_BIN=target/debug/pollcast node --test tests/js/
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {
  AuthClient, CacheClient, TopicClient, Configurations, CredentialProvider, CacheGet,
  CacheSetIfAbsent, CacheDictionaryIncrement, TopicPublish, GenerateDisposableToken,
  ExpiresIn, TokenScopes, TopicConfigurations,
} = require('@gomomento/sdk');

const bin = process.env.POLLCAST_BIN || path.join(__dirname, '../../target/debug/pollcast');
let server;
let grpc; // host:port
let httpBase; // http://host:port
let apiKey;

before(async () => {
  const keyFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lm-')), 'key');
  server = spawn(bin, ['local-momento', '--grpc', '127.0.0.1:0', '--http', '127.0.0.1:0',
    '--api-key-file', keyFile, '--create-cache', 'js', '--in-memory'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 15000);
    server.stdout.on('data', (chunk) => {
      out += chunk;
      const g = out.match(/gRPC[^\n]*http:\/\/(127\.0\.0\.1:\d+)/);
      const h = out.match(/HTTP topics API:\s+(http:\/\/127\.0\.0\.1:\d+)/);
      if (g && h) { clearTimeout(timer); grpc = g[1]; httpBase = h[1]; resolve(); }
    });
    server.on('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)));
  });
  apiKey = fs.readFileSync(keyFile, 'utf8').trim();
});

after(() => server && server.kill('SIGTERM'));

// What README.md shows. The JS SDK's fromApiKeyV2 ignores endpoint overrides, so the key goes
// in the SDKs' base64 auth-token form (what disposable tokens already come as) via fromString.
function authToken(key) {
  return Buffer.from(JSON.stringify({ api_key: key, endpoint: 'localhost' })).toString('base64');
}
function credentials(token) {
  return CredentialProvider.fromString({
    authToken: token,
    endpointOverrides: {
      cacheEndpoint: grpc, controlEndpoint: grpc, tokenEndpoint: grpc, secureConnection: false,
    },
  });
}

test('cache calls work through the JavaScript SDK', async () => {
  const cache = await CacheClient.create({
    configuration: Configurations.Laptop.v1(),
    credentialProvider: credentials(authToken(apiKey)),
    defaultTtlSeconds: 60,
  });
  assert.ok((await cache.setIfAbsent('js', 'k', 'v1')) instanceof CacheSetIfAbsent.Stored);
  assert.ok((await cache.setIfAbsent('js', 'k', 'v2')) instanceof CacheSetIfAbsent.NotStored);
  const got = await cache.get('js', 'k');
  assert.ok(got instanceof CacheGet.Hit, `get: ${got}`);
  assert.equal(got.valueString(), 'v1');
  const inc = await cache.dictionaryIncrement('js', 'tally', 'o1', 3);
  assert.ok(inc instanceof CacheDictionaryIncrement.Success, `${inc}`);
  assert.equal(inc.valueNumber(), 3);
  cache.close();
});

test('a disposable token minted by the JavaScript SDK publishes with its token_id', async () => {
  const auth = new AuthClient({ credentialProvider: credentials(authToken(apiKey)) });
  const minted = await auth.generateDisposableToken(
    TokenScopes.topicPublishSubscribe('js', 'room'), ExpiresIn.minutes(5), { tokenId: 'js-voter' });
  assert.ok(minted instanceof GenerateDisposableToken.Success, `${minted}`);
  const topics = new TopicClient({
    configuration: TopicConfigurations.Default.latest(),
    credentialProvider: credentials(minted.authToken),
  });
  const received = new Promise((resolve, reject) => {
    topics.subscribe('js', 'room', {
      onItem: (item) => resolve(item),
      onError: (err) => reject(new Error(`${err}`)),
    }).then((sub) => {
      setTimeout(async () => {
        const published = await topics.publish('js', 'room', 'hello from js');
        if (!(published instanceof TopicPublish.Success)) reject(new Error(`${published}`));
      }, 300);
      return sub;
    });
  });
  const item = await received;
  assert.equal(item.valueString(), 'hello from js');
  assert.equal(item.tokenId(), 'js-voter');
  topics.close?.();
  process.nextTick(() => {});
});

test('the HTTP topics API takes the token the SDK handed out', async () => {
  const auth = new AuthClient({ credentialProvider: credentials(authToken(apiKey)) });
  const minted = await auth.generateDisposableToken(
    TokenScopes.topicPublishSubscribe('js', 'http-room'), ExpiresIn.minutes(5), { tokenId: 'http-voter' });
  const token = minted.authToken;
  const poll = fetch(`${httpBase}/topics/js/http-room?sequence_number=0&sequence_page=0`, {
    headers: { Authorization: token },
  });
  await new Promise((r) => setTimeout(r, 300));
  const post = await fetch(`${httpBase}/topics/js/http-room`, {
    method: 'POST', headers: { Authorization: token, 'Content-Type': 'text/plain' }, body: 'via http',
  });
  assert.equal(post.status, 204);
  const got = await (await poll).json();
  assert.equal(got.items[0].item.value.text, 'via http');
});
