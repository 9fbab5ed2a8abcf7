// Segments and encodings at their boundaries, and personalisation that switches encoding.
import t from 'tap';
import { smsParts } from '../src/lib/sms-encoding.js';
import { compileBody, renderBody, TemplateSyntaxError } from '../src/modules/templates/render.js';

t.test('GSM-7: 160 in one segment, then 153 per segment', async (t) => {
  t.same(smsParts('a'.repeat(160)), { encoding: 'GSM-7', segments: 1, characters: 160 });
  t.equal(smsParts('a'.repeat(161)).segments, 2);
  t.equal(smsParts('a'.repeat(306)).segments, 2);
  t.equal(smsParts('a'.repeat(307)).segments, 3);
  t.equal(smsParts('é'.repeat(160)).encoding, 'GSM-7', 'é is in the GSM-7 alphabet');
  t.equal(smsParts('€'.repeat(80)).segments, 1, 'an extension character takes two septets');
  t.equal(smsParts('€'.repeat(81)).segments, 2);
  t.equal(smsParts('').segments, 0);
});

t.test('UCS-2: 70 in one segment, then 67', async (t) => {
  t.same(smsParts('ć' + 'a'.repeat(69)), { encoding: 'UCS-2', segments: 1, characters: 70 });
  t.equal(smsParts('ć' + 'a'.repeat(70)).segments, 2);
  t.equal(smsParts('ć' + 'a'.repeat(133)).segments, 2);
  t.equal(smsParts('ć' + 'a'.repeat(134)).segments, 3);
  t.equal(smsParts('😀'.repeat(35)).segments, 1, 'an emoji is two UCS-2 units');
});

t.test('a name can switch the encoding: segments are counted after personalisation', async (t) => {
  const compiled = compileBody('Hi {{first_name|there}}, ' + 'a'.repeat(140));
  t.equal(smsParts(renderBody(compiled, { first_name: 'Anna' })).encoding, 'GSM-7');
  const zoe = renderBody(compiled, { first_name: 'Zoë' });
  t.same([smsParts(zoe).encoding, smsParts(zoe).segments], ['UCS-2', 3]);
  t.equal(renderBody(compiled, {}), 'Hi there, ' + 'a'.repeat(140), 'fallback');
  t.equal(renderBody(compiled, { first_name: '   ' }), 'Hi there, ' + 'a'.repeat(140), 'blank counts as missing');
});

t.test('unknown and broken tags are refused when compiled', async (t) => {
  t.throws(() => compileBody('Hi {{frist_name}}'), TemplateSyntaxError);
  t.throws(() => compileBody('Hi {{first_name'), TemplateSyntaxError);
  t.throws(() => compileBody('Hi }} there'), TemplateSyntaxError);
  t.same([...compileBody('{{shop_name}}: {{discount_code}} {{unsubscribe}}').tags].sort(), ['discount_code', 'shop_name', 'unsubscribe']);
});

t.test('the fast path agrees with the calculator', async (t) => {
  const { SegmentedMessage } = await import('sms-segments-calculator');
  const samples = ['Hi Anna, sale today!\nReply STOP to opt out', 'a'.repeat(153), 'a'.repeat(154), 'é'.repeat(306), 'é'.repeat(307), '@£$¥ ÄÖÑÜ§¿ äöñüà'.repeat(20), 'Price: 5€', 'ć', '😀 hi'];
  for (const text of samples) {
    const reference = new SegmentedMessage(text, 'auto');
    t.same(smsParts(text), { encoding: reference.encodingName === 'UCS-2' ? 'UCS-2' : 'GSM-7', segments: reference.segmentsCount, characters: reference.numberOfCharacters }, JSON.stringify(text.slice(0, 20)));
  }
});
