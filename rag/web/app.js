// The rag web page: no build step, no dependencies. Talks to the same API as every other client.
"use strict";
const $ = (id) => document.getElementById(id);
let history = [];

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = localStorage.getItem("rag-key") || $("key").value.trim();
  if (key) h.Authorization = "Bearer " + key;
  return h;
}

async function loadStatus() {
  try {
    const r = await fetch("/v1/status", { headers: headers() });
    if (r.status === 401) { $("keybox").open = true; $("status").textContent = "An API key is needed."; return; }
    const s = await r.json();
    const when = s.last_ingest ? new Date(s.last_ingest * 1000).toLocaleString() : "never";
    $("status").textContent = `${s.documents} documents, ${s.chunks} chunks, last ingest ${when}`;
  } catch (e) {
    $("status").textContent = "The server cannot be reached.";
  }
}

function showPassage(source) {
  $("passage-title").textContent = `[${source.n}] ${source.source}`;
  const where = [source.headings, source.page != null ? `page ${source.page}` : ""].filter(Boolean).join(", ");
  $("passage-where").textContent = where;
  $("passage-text").textContent = source.text;
  $("passage").hidden = false;
}

function addTurn(question) {
  const turn = document.createElement("article");
  turn.className = "turn";
  turn.innerHTML = `<p class="question"></p><p class="rewritten" hidden></p><p class="answer"></p>
    <ol class="citations"></ol><div class="rating" hidden>Was this helpful?
    <button type="button" data-rating="good" aria-label="Good answer">Yes</button>
    <button type="button" data-rating="bad" aria-label="Bad answer">No</button><span class="thanks"></span></div>`;
  turn.querySelector(".question").textContent = question;
  $("conversation").appendChild(turn);
  return turn;
}

function finish(turn, final) {
  if (final.rewritten) {
    const note = turn.querySelector(".rewritten");
    note.textContent = `Searched for: ${final.question}`;
    note.hidden = false;
  }
  const list = turn.querySelector(".citations");
  for (const source of final.sources || []) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "citation";
    button.textContent = `[${source.n}] ${source.label}`;
    button.addEventListener("click", () => showPassage(source));
    item.appendChild(button);
    list.appendChild(item);
  }
  if (final.answer_id != null) {
    const rating = turn.querySelector(".rating");
    rating.hidden = false;
    rating.querySelectorAll("button").forEach((b) => b.addEventListener("click", async () => {
      const r = await fetch("/v1/feedback", {
        method: "POST", headers: headers(),
        body: JSON.stringify({ answer_id: final.answer_id, rating: b.dataset.rating }),
      });
      rating.querySelector(".thanks").textContent = r.ok ? "Thanks, noted." : "Could not save the rating.";
      rating.querySelectorAll("button").forEach((x) => (x.disabled = true));
    }));
  }
}

async function ask(question) {
  const turn = addTurn(question);
  const out = turn.querySelector(".answer");
  history.push({ role: "user", content: question });
  const response = await fetch("/v1/chat/completions", {
    method: "POST", headers: headers(),
    body: JSON.stringify({ model: "rag", stream: true, messages: history }),
  });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    out.textContent = (body.error && body.error.message) || `Error ${response.status}`;
    out.classList.add("error");
    history.pop();
    return;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "", text = "", final = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut).trim();
      buffer = buffer.slice(cut + 2);
      if (!event.startsWith("data: ")) continue;
      const data = event.slice(6);
      if (data === "[DONE]") continue;
      const chunk = JSON.parse(data);
      if (chunk.error) { out.textContent = chunk.error.message; out.classList.add("error"); return; }
      const choice = chunk.choices[0];
      if (choice.delta && choice.delta.content) { text += choice.delta.content; out.textContent = text; }
      if (choice.finish_reason) final = chunk;
    }
  }
  history.push({ role: "assistant", content: text });
  if (final) finish(turn, final);
}

$("ask").addEventListener("submit", (event) => {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question) return;
  $("question").value = "";
  ask(question).catch((e) => console.error(e));
});
$("question").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); $("ask").requestSubmit(); }
});
$("new").addEventListener("click", () => { history = []; $("conversation").innerHTML = ""; });
$("close").addEventListener("click", () => { $("passage").hidden = true; });
$("key").addEventListener("change", () => { localStorage.setItem("rag-key", $("key").value.trim()); loadStatus(); });
loadStatus();
