// `npm run api:lint`: Redocly's recommended rules over the served OpenAPI document.
import { lintDocument, servedDocument } from './openapi-document.js';

const problems = await lintDocument(await servedDocument());
for (const p of problems) console.log(`${p.severity.padEnd(5)} ${p.rule}: ${p.message} (${p.where})`);
const errors = problems.filter((p) => p.severity === 'error').length;
console.log(`${errors} errors, ${problems.length - errors} warnings`);
process.exit(errors > 0 ? 1 : 0);
