// The settlement contract on a local in-process EVM (@ethereumjs/vm), compiled with solc-js,
// given a real epoch produced by Waymark (the fixture a Rust test writes: the report, the
// oracles' signatures, and every payee's claim with its published proof):
//   node contracts/test/settlement.mjs fixture.json
// Deploys a token and the contract, refuses roots without quorum (too few, unsorted,
// repeated and foreign signatures, a report changed after signing), accepts the real one,
// refuses a second post, an unknown epoch, wrong amounts and wrong proofs, pays every claim
// exactly once and refuses the second. Prints a JSON summary; exits 1 on any failure.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { createVM } from '@ethereumjs/vm';
import { Common, Hardfork, Mainnet } from '@ethereumjs/common';
import { createAddressFromString, hexToBytes, bytesToHex } from '@ethereumjs/util';
import { Interface, AbiCoder } from 'ethers';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const require = createRequire(import.meta.url);
const solc = require('solc');

function compile() {
  const sources = {
    'WaymarkSettlement.sol': { content: readFileSync(join(root, 'WaymarkSettlement.sol'), 'utf8') },
    'TestToken.sol': { content: readFileSync(join(here, 'TestToken.sol'), 'utf8') },
  };
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: 'cancun',
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
    },
  };
  const findImports = (path) => {
    try {
      return { contents: readFileSync(join(root, 'node_modules', path), 'utf8') };
    } catch {
      return { error: `not found: ${path}` };
    }
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length) throw new Error(errors.map((e) => e.formattedMessage).join('\n'));
  const contract = (file, name) => output.contracts[file][name];
  return {
    settlement: contract('WaymarkSettlement.sol', 'WaymarkSettlement'),
    token: contract('TestToken.sol', 'TestToken'),
    version: solc.version(),
  };
}

const fixture = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const compiled = compile();
const settlementAbi = new Interface(compiled.settlement.abi);
const tokenAbi = new Interface(compiled.token.abi);
const vm = await createVM({ common: new Common({ chain: Mainnet, hardfork: Hardfork.Cancun }) });
const deployer = createAddressFromString('0x1000000000000000000000000000000000000001');
const anyone = createAddressFromString('0x2000000000000000000000000000000000000002');

async function call(to, abi, method, args, caller = anyone) {
  const result = await vm.evm.runCall({
    caller,
    to,
    data: hexToBytes(abi.encodeFunctionData(method, args)),
    gasLimit: 10_000_000n,
  });
  const exec = result.execResult;
  if (exec.exceptionError) {
    const data = bytesToHex(exec.returnValue);
    let reason = exec.exceptionError.error;
    try {
      const parsed = abi.parseError(data);
      if (parsed) reason = parsed.name;
    } catch { /* not a custom error */ }
    return { ok: false, reason };
  }
  const logs = exec.logs.map(([address, topics, data]) => {
    const parsed = abi.parseLog({ topics: topics.map(bytesToHex), data: bytesToHex(data) });
    return parsed && { name: parsed.name, args: parsed.args };
  });
  return { ok: true, returned: bytesToHex(exec.returnValue), logs, gas: exec.executionGasUsed };
}

async function view(to, abi, method, args) {
  const result = await call(to, abi, method, args);
  if (!result.ok) throw new Error(`${method} reverted: ${result.reason}`);
  return abi.decodeFunctionResult(method, result.returned);
}

async function deploy(contract, abi, args) {
  const code = contract.evm.bytecode.object + abi.encodeDeploy(args).slice(2);
  const result = await vm.evm.runCall({ caller: deployer, data: hexToBytes(`0x${code}`), gasLimit: 10_000_000n });
  if (result.execResult.exceptionError) throw new Error(`deploy failed: ${result.execResult.exceptionError.error}`);
  return result.createdAddress;
}

const failures = [];
function expect(what, condition, detail = '') {
  if (!condition) failures.push(`${what}${detail ? `: ${detail}` : ''}`);
}
async function refused(what, promise, reason) {
  const result = await promise;
  expect(what, !result.ok && result.reason === reason, `got ${result.ok ? 'success' : result.reason}, want ${reason}`);
}

const total = BigInt(fixture.total);
const token = await deploy(compiled.token, tokenAbi, [total * 2n]);
const settlement = await deploy(compiled.settlement, settlementAbi, [token.toString(), fixture.oracles, fixture.quorum]);
expect('funding', (await call(token, tokenAbi, 'transfer', [settlement.toString(), total], deployer)).ok);

// The contract and Waymark compute the same digest.
const [digest] = await view(settlement, settlementAbi, 'reportDigest', [fixture.epoch_number, fixture.merkle_root, total, fixture.inputs_hash]);
expect('report digest', digest === fixture.digest, `${digest} != ${fixture.digest}`);

const post = (signatures, overrides = {}) => call(settlement, settlementAbi, 'postEpoch', [
  overrides.epoch ?? fixture.epoch_number,
  overrides.root ?? fixture.merkle_root,
  overrides.total ?? total,
  fixture.inputs_hash,
  signatures,
]);
const sigs = fixture.signatures;
await refused('one signature of a quorum of two', post(sigs.slice(0, 1)), 'NoQuorum');
await refused('signers out of order', post([...sigs].reverse()), 'SignersNotAscending');
await refused('one oracle twice', post([sigs[0], sigs[0]]), 'SignersNotAscending');
if (fixture.stranger_signature) {
  await refused('a stranger\'s signature', post([fixture.stranger_signature, ...sigs]), 'NotAnOracle');
}
await refused('a total changed after signing', post(sigs, { total: total + 1n }), 'NotAnOracle');
await refused('a root changed after signing', post(sigs, { root: `0x${'11'.repeat(32)}` }), 'NotAnOracle');
await refused('a claim before the epoch is posted', call(settlement, settlementAbi, 'claim', [fixture.epoch_number, fixture.claims[0].address, fixture.claims[0].amount, fixture.claims[0].proof]), 'UnknownEpoch');

const posted = await post(sigs);
expect('the real epoch posts with quorum', posted.ok, posted.reason);
const postedEvent = posted.logs?.find((l) => l?.name === 'EpochPosted');
expect('EpochPosted event', postedEvent && postedEvent.args.root === fixture.merkle_root && postedEvent.args.signers.length === sigs.length);
await refused('the same epoch twice', post(sigs), 'EpochAlreadyPosted');

const claim = (epoch, c, amount = c.amount, proof = c.proof) =>
  call(settlement, settlementAbi, 'claim', [epoch, c.address, amount, proof]);
const first = fixture.claims[0];
await refused('an unknown epoch', claim(fixture.epoch_number + 1, first), 'UnknownEpoch');
await refused('one unit more than the leaf', claim(fixture.epoch_number, first, BigInt(first.amount) + 1n), 'InvalidProof');
if (fixture.claims.length > 1) {
  await refused('another payee\'s proof', claim(fixture.epoch_number, first, first.amount, fixture.claims[1].proof), 'InvalidProof');
}
let paid = 0n;
for (const c of fixture.claims) {
  const result = await claim(fixture.epoch_number, c);
  expect(`claim of ${c.address}`, result.ok, result.reason);
  const event = result.logs?.find((l) => l?.name === 'Claimed');
  expect(`Claimed event of ${c.address}`, event && BigInt(event.args.amount) === BigInt(c.amount));
  const [balance] = await view(token, tokenAbi, 'balanceOf', [c.address]);
  expect(`balance of ${c.address}`, balance === BigInt(c.amount), `${balance} != ${c.amount}`);
  paid += BigInt(c.amount);
  await refused(`a second claim of ${c.address}`, claim(fixture.epoch_number, c), 'AlreadyClaimed');
}
expect('every leaf paid: the total', paid === total, `${paid} != ${total}`);
const [left] = await view(token, tokenAbi, 'balanceOf', [settlement.toString()]);
expect('nothing left in the contract', left === 0n, `${left}`);

console.log(JSON.stringify({ solc: compiled.version, claims: fixture.claims.length, paid: paid.toString(), failures }));
process.exit(failures.length ? 1 : 0);
