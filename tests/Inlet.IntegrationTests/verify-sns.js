// An independent SNS signature verifier, written from AWS's documentation only (it shares no code with Inlet):
// fetches SigningCertURL over https (trusting NODE_EXTRA_CA_CERTS), rebuilds the string to sign, and checks the
// RSA signature with SHA1 (SignatureVersion 1) or SHA256 (2). Prints one JSON line per message file.
'use strict';
const fs = require('fs');
const https = require('https');
const crypto = require('crypto');

function fetch(url) {
  return new Promise((resolve, reject) => {
    https.get(url, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: ${res.statusCode}`))));
    }).on('error', reject);
  });
}

function stringToSign(m) {
  const keys = m.Type === 'Notification'
    ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']
    : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
  return keys.filter((k) => m[k] !== undefined).map((k) => `${k}\n${m[k]}\n`).join('');
}

(async () => {
  for (const file of process.argv.slice(2)) {
    const m = JSON.parse(fs.readFileSync(file, 'utf8'));
    const ok = /^https:\/\/.+\/SimpleNotificationService-[a-zA-Z0-9]{32}\.pem$/.test(m.SigningCertURL);
    const cert = await fetch(m.SigningCertURL);
    const algorithm = m.SignatureVersion === '2' ? 'RSA-SHA256' : 'RSA-SHA1';
    const valid = crypto.verify(algorithm, Buffer.from(stringToSign(m), 'utf8'), crypto.createPublicKey(cert), Buffer.from(m.Signature, 'base64'));
    console.log(JSON.stringify({ file, type: m.Type, version: m.SignatureVersion, urlShape: ok, valid }));
  }
})().catch((e) => { console.error(e.message); process.exit(1); });
