// The openai Node SDK's Realtime WebSocket client (OpenAIRealtimeWS over `ws`), pointed at the gateway by its
// baseURL: one text item, one response.create, and the text it got back printed as JSON on one line.
// Usage: node realtime_client.mjs <baseURL> <apiKey> <model>
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';

const [baseURL, apiKey, model] = process.argv.slice(2);
// The test waits too; this one ends a client that would otherwise hang on a gateway that never answers.
const timer = setTimeout(() => {
  console.error('timed out waiting for response.done');
  process.exit(2);
}, 20000);

const client = new OpenAI({ baseURL, apiKey });
const rt = new OpenAIRealtimeWS({ model }, client);
let text = '';
let created = null;

rt.on('error', (error) => {
  console.error(`realtime error: ${error?.message ?? error}`);
  process.exit(1);
});
rt.on('session.created', (event) => {
  created = event.session.model;
});
rt.socket.on('open', () => {
  rt.send({
    type: 'conversation.item.create',
    item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Say hello.' }] },
  });
  rt.send({ type: 'response.create', response: { output_modalities: ['text'] } });
});
rt.on('response.output_text.delta', (event) => {
  text += event.delta;
});
rt.on('response.done', (event) => {
  clearTimeout(timer);
  console.log(JSON.stringify({ text, model: created, status: event.response.status, url: String(rt.url) }));
  rt.close();
});
