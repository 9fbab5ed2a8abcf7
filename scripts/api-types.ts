// `npm run api:types`: regenerate test/helpers/api-types.ts from the served OpenAPI document.
import { writeFile } from 'node:fs/promises';
import { API_TYPES_FILE, clientTypes, servedDocument } from './openapi-document.js';

const text = await clientTypes(await servedDocument());
await writeFile(API_TYPES_FILE, text);
console.log(`wrote ${API_TYPES_FILE}`);
