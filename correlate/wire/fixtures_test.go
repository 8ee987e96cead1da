package wire

import (
	"fmt"
	"strings"
)

// Fixtures: streams and bodies as the engines write them. The shapes follow vLLM's
// OpenAI server (serving_chat / serving_completion chunks with "usage": null until the
// final usage chunk when stream_options.include_usage is set), SGLang's OpenAI adapter
// (role/content/reasoning_content/tool_calls all present in each delta, "matched_stop")
// and native /generate stream (cumulative text with meta_info), TGI's /generate_stream
// ("data:" with no space, a token object per event, details on the last one) and its
// error events ({"error":..., "error_type":...}).

const vllmID = "chatcmpl-b4f6e3c1a9d84f0e8a7b2c5d6e1f3a90"

func vllmChunk(delta string, finish string) string {
	fr := "null"
	if finish != "" {
		fr = `"` + finish + `"`
	}
	return `data: {"id":"` + vllmID + `","object":"chat.completion.chunk","created":1718000000,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"delta":` + delta + `,"logprobs":null,"finish_reason":` + fr + `}]}` + "\n\n"
}

// vllmChatEvents is a vLLM chat stream: role chunk, n content chunks, finish chunk, usage
// chunk, [DONE]; one string per write.
func vllmChatEvents(n int) []string {
	evs := []string{vllmChunk(`{"role":"assistant","content":""}`, "")}
	for i := range n {
		evs = append(evs, vllmChunk(fmt.Sprintf(`{"content":" tok%d"}`, i), ""))
	}
	evs = append(evs,
		vllmChunk(`{"content":""}`, "length"),
		`data: {"id":"`+vllmID+`","object":"chat.completion.chunk","created":1718000000,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[],"usage":{"prompt_tokens":12,"total_tokens":`+fmt.Sprint(12+n)+`,"completion_tokens":`+fmt.Sprint(n)+`}}`+"\n\n",
		"data: [DONE]\n\n")
	return evs
}

// vllmCompletionEvents is a vLLM /v1/completions stream with usage null in every chunk.
var vllmCompletionEvents = []string{
	`data: {"id":"cmpl-5d1c9e0f2b3a4c6d","object":"text_completion","created":1718000001,"model":"m","choices":[{"index":0,"text":" Paris","logprobs":null,"finish_reason":null,"stop_reason":null}],"usage":null}` + "\n\n",
	`data: {"id":"cmpl-5d1c9e0f2b3a4c6d","object":"text_completion","created":1718000001,"model":"m","choices":[{"index":0,"text":" is","logprobs":null,"finish_reason":null,"stop_reason":null}],"usage":null}` + "\n\n",
	`data: {"id":"cmpl-5d1c9e0f2b3a4c6d","object":"text_completion","created":1718000001,"model":"m","choices":[{"index":0,"text":"","logprobs":null,"finish_reason":"stop","stop_reason":null}],"usage":null}` + "\n\n",
	"data: [DONE]\n\n",
}

// sglangChatEvents is an SGLang chat stream with a reasoning delta and a tool call.
var sglangChatEvents = []string{
	`data: {"id":"9f7c2b1e4d","object":"chat.completion.chunk","created":1718000002,"model":"default","choices":[{"index":0,"delta":{"role":"assistant","content":"","reasoning_content":null,"tool_calls":null},"logprobs":null,"finish_reason":null,"matched_stop":null}],"usage":null}` + "\n\n",
	`data: {"id":"9f7c2b1e4d","object":"chat.completion.chunk","created":1718000002,"model":"default","choices":[{"index":0,"delta":{"role":null,"content":null,"reasoning_content":"Let me think","tool_calls":null},"logprobs":null,"finish_reason":null,"matched_stop":null}],"usage":null}` + "\n\n",
	`data: {"id":"9f7c2b1e4d","object":"chat.completion.chunk","created":1718000002,"model":"default","choices":[{"index":0,"delta":{"role":null,"content":"Hi","reasoning_content":null,"tool_calls":null},"logprobs":null,"finish_reason":null,"matched_stop":null}],"usage":null}` + "\n\n",
	`data: {"id":"9f7c2b1e4d","object":"chat.completion.chunk","created":1718000002,"model":"default","choices":[{"index":0,"delta":{"role":null,"content":null,"reasoning_content":null,"tool_calls":[{"id":"call_0","index":0,"type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Paris\"}"}}]},"logprobs":null,"finish_reason":null,"matched_stop":null}],"usage":null}` + "\n\n",
	`data: {"id":"9f7c2b1e4d","object":"chat.completion.chunk","created":1718000002,"model":"default","choices":[{"index":0,"delta":{"role":null,"content":null,"reasoning_content":null,"tool_calls":null},"logprobs":null,"finish_reason":"tool_calls","matched_stop":null}],"usage":null}` + "\n\n",
	`data: {"id":"9f7c2b1e4d","object":"chat.completion.chunk","created":1718000002,"model":"default","choices":[],"usage":{"prompt_tokens":20,"total_tokens":27,"completion_tokens":7,"prompt_tokens_details":null}}` + "\n\n",
	"data: [DONE]\n\n",
}

// sglangNativeEvents is SGLang's /generate stream.
var sglangNativeEvents = []string{
	`data: {"text":"The","output_ids":[785],"meta_info":{"id":"a1b2c3","finish_reason":null,"prompt_tokens":6,"completion_tokens":1,"cached_tokens":0},"index":0}` + "\n\n",
	`data: {"text":"The sky","output_ids":[785,12884],"meta_info":{"id":"a1b2c3","finish_reason":{"type":"length","length":2},"prompt_tokens":6,"completion_tokens":2,"cached_tokens":0},"index":0}` + "\n\n",
	"data: [DONE]\n\n",
}

// tgiEvents is TGI's /generate_stream: a token in every event, details on the last.
var tgiEvents = []string{
	`data:{"index":1,"token":{"id":22172,"text":" Hello","logprob":-0.52,"special":false},"generated_text":null,"details":null}` + "\n\n",
	`data:{"index":2,"token":{"id":1526,"text":" world","logprob":-0.13,"special":false},"generated_text":null,"details":null}` + "\n\n",
	`data:{"index":3,"token":{"id":2,"text":"</s>","logprob":-0.01,"special":true},"generated_text":" Hello world","details":{"finish_reason":"eos_token","generated_tokens":3,"seed":null}}` + "\n\n",
}

// tgiErrorEvent is an error TGI sends inside a stream.
const tgiErrorEvent = `data:{"error":"Input validation error: ` + "`inputs` must have less than 4096 tokens. Given: 5000" + `","error_type":"validation"}` + "\n\n"

// vllmStreamError is vLLM's error event in a stream.
const vllmStreamError = `data: {"error": {"object": "error", "message": "The decoder prompt (length 9000) is longer than the maximum model length of 8192.", "type": "BadRequestError", "param": null, "code": 400}}` + "\n\n"

// Non-streamed bodies.
const (
	vllmChatBody = `{"id":"chatcmpl-0a1b2c3d4e5f","object":"chat.completion","created":1718000003,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there","tool_calls":[]},"logprobs":null,"finish_reason":"stop","stop_reason":null}],"usage":{"prompt_tokens":9,"total_tokens":12,"completion_tokens":3,"prompt_tokens_details":null},"prompt_logprobs":null}`
	vllmCtxBody  = `{"object":"error","message":"This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (4000 in the messages, 1000 in the completion). Please reduce the length of the messages or completion.","type":"BadRequestError","param":null,"code":400}`
	openaiCtx    = `{"error":{"message":"This model's maximum context length is 8192 tokens, however you requested 9000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`
	tgiCtxBody   = `{"error":"Input validation error: ` + "`inputs` must have less than 1024 tokens. Given: 2000" + `","error_type":"validation"}`
	sglangCtx    = `{"object":"error","message":"The input (5000 tokens) is longer than the model's context length (4096 tokens).","type":"BadRequestError","param":null,"code":400}`
	badTempBody  = `{"object":"error","message":"temperature must be non-negative, got -1.0.","type":"BadRequestError","param":null,"code":400}`
	rateBody     = `{"error":{"message":"Too many requests: the waiting queue is full","type":"rate_limit_error","code":429}}`
)

// chunk frames s as one chunk of chunked transfer coding.
func chunk(s string) string { return fmt.Sprintf("%x\r\n%s\r\n", len(s), s) }

const lastChunk = "0\r\n\r\n"

// sseHead is a streamed response head as uvicorn (h11) writes it.
const sseHead = "HTTP/1.1 200 OK\r\ndate: Mon, 10 Jun 2024 00:00:00 GMT\r\nserver: uvicorn\r\ncontent-type: text/event-stream; charset=utf-8\r\ntransfer-encoding: chunked\r\n\r\n"

// jsonResp is a content-length response with a JSON body.
func jsonResp(status int, reason, body string) string {
	return fmt.Sprintf("HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s", status, reason, len(body), body)
}

// chatReq is an OpenAI chat request with a JSON body.
func chatReq(stream bool, maxTokens int) string {
	body := fmt.Sprintf(`{"model":"m","messages":[{"role":"user","content":"Say hello"}],"max_tokens":%d,"stream":%t}`, maxTokens, stream)
	return "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost:8000\r\nUser-Agent: python-httpx/0.27\r\nContent-Type: application/json\r\nContent-Length: " +
		fmt.Sprint(len(body)) + "\r\n\r\n" + body
}

// h11Writes is a chunked SSE response as uvicorn writes it: the head, one write per event
// (size, data and CRLF together), the last chunk alone.
func h11Writes(events []string) []string {
	w := []string{sseHead}
	for _, e := range events {
		w = append(w, chunk(e))
	}
	return append(w, lastChunk)
}

// goWrites is the same response as a Go server writes it: head with the first event,
// the last event together with the last chunk.
func goWrites(events []string) []string {
	head := strings.Replace(sseHead, "server: uvicorn\r\n", "", 1)
	var w []string
	for i, e := range events {
		s := chunk(e)
		if i == 0 {
			s = head + s
		}
		if i == len(events)-1 {
			s += lastChunk
		}
		w = append(w, s)
	}
	return w
}

// allFixtures are seeds for the fuzz targets: every stream and body above.
func allFixtures() (requests, responses, streams []string) {
	requests = []string{
		chatReq(true, 64), chatReq(false, 16),
		"GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /generate_stream HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
			chunk(`{"inputs":"hi","parameters":{"max_new_tokens":20}}`) + lastChunk,
		"POST /v1/completions HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}",
		chatReq(true, 8) + chatReq(false, 9) + "GET /metrics HTTP/1.0\r\n\r\n",
	}
	streamSets := [][]string{vllmChatEvents(5), vllmCompletionEvents, sglangChatEvents, sglangNativeEvents, tgiEvents, {tgiErrorEvent}, {vllmStreamError}}
	for _, set := range streamSets {
		streams = append(streams, strings.Join(set, ""))
		responses = append(responses, strings.Join(h11Writes(set), ""))
	}
	for _, b := range []string{vllmChatBody, vllmCtxBody, openaiCtx, tgiCtxBody, sglangCtx, badTempBody, rateBody} {
		responses = append(responses, jsonResp(400, "Bad Request", b))
	}
	responses = append(responses,
		"HTTP/1.1 100 Continue\r\n\r\n"+jsonResp(200, "OK", vllmChatBody),
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"+strings.Join(tgiEvents, ""),
	)
	return requests, responses, streams
}
