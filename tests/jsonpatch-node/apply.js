// Applies a JSON patch with fast-json-patch, an RFC 6902 implementation independent of
// cellgate's own, so the unit tests can check the patches our builder writes.
//
// stdin:  {"doc": <any JSON>, "patch": [<op>, ...]}
// stdout: the patched document as one line of JSON; exit 0.
// On bad input or a patch that does not apply: a message on stderr, exit 1.
'use strict';

let jsonpatch;
try {
    jsonpatch = require('fast-json-patch');
} catch (e) {
    process.stderr.write('fast-json-patch is not installed: run `npm ci` in ' + __dirname + '\n');
    process.exit(2);
}

const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', () => {
    let input;
    try {
        input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (e) {
        process.stderr.write('input is not JSON: ' + e.message + '\n');
        process.exit(1);
    }
    if (input === null || typeof input !== 'object' || !('doc' in input) ||
        !Array.isArray(input.patch)) {
        process.stderr.write('input must be {"doc": ..., "patch": [...]}\n');
        process.exit(1);
    }
    try {
        // validate: every op is checked before it is applied (a failed test throws too);
        // mutate in place; refuse __proto__ paths.
        const res = jsonpatch.applyPatch(input.doc, input.patch, true, true, true);
        process.stdout.write(JSON.stringify(res.newDocument) + '\n');
    } catch (e) {
        // fast-json-patch's message goes on to dump the operation and the whole document
        const where = e.index !== undefined ? 'op ' + e.index + ': ' : '';
        const reason = String(e.message).split('\n')[0];
        process.stderr.write('patch failed: ' + where + (e.name || 'Error') + ': ' + reason + '\n');
        process.exit(1);
    }
});
