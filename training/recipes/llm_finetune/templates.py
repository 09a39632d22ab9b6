"""Data handlers (the format of a training record) and chat templates (how a conversation becomes
text), in the style of LLaMA-Factory. Standard library only: the API checks names against these.

A handler turns a record into messages: [{"role": "system" | "user" | "assistant", "content"}].
A template renders each message as a piece of text; the pieces of user and system turns are the
prompt (masked from the loss), the pieces of assistant turns are what the model learns to say."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    user: str  # the user's turn and the cue for the assistant's answer
    assistant: str
    system: str = "{content}\n"
    prefix: str = ""  # before the first turn (e.g. a begin-of-text marker)
    default_system: str = ""
    add_bos: bool = True  # start each sample with the tokenizer's BOS token, if it has one


TEMPLATES = {
    "default": Template(system="System: {content}\n", user="Human: {content}\nAssistant: ",
                        assistant="{content}{eos}\n"),
    "alpaca": Template(system="{content}\n\n", user="### Instruction:\n{content}\n\n### Response:\n",
                       assistant="{content}{eos}\n\n",
                       default_system="Below is an instruction that describes a task. Write a response that "
                                      "appropriately completes the request."),
    "chatml": Template(system="<|im_start|>system\n{content}<|im_end|>\n",
                       user="<|im_start|>user\n{content}<|im_end|>\n<|im_start|>assistant\n",
                       assistant="{content}<|im_end|>\n", add_bos=False),
    "qwen": Template(system="<|im_start|>system\n{content}<|im_end|>\n",
                     user="<|im_start|>user\n{content}<|im_end|>\n<|im_start|>assistant\n",
                     assistant="{content}<|im_end|>\n", default_system="You are a helpful assistant.", add_bos=False),
    "llama3": Template(system="<|start_header_id|>system<|end_header_id|>\n\n{content}<|eot_id|>",
                       user="<|start_header_id|>user<|end_header_id|>\n\n{content}<|eot_id|>"
                            "<|start_header_id|>assistant<|end_header_id|>\n\n",
                       assistant="{content}<|eot_id|>"),
    "empty": Template(system="{content}", user="{content}", assistant="{content}{eos}"),
}


class RecordError(ValueError):
    """A record the handler cannot read; the message says what it lacks."""


def alpaca(record: dict) -> list[dict]:
    """{"instruction", "input"?, "output", "system"?, "history"?: [[question, answer], …]}"""
    if not isinstance(record.get("instruction"), str) or not isinstance(record.get("output"), str):
        raise RecordError("an alpaca record needs 'instruction' and 'output' strings")
    messages = [{"role": "system", "content": record["system"]}] if record.get("system") else []
    for question, answer in record.get("history") or []:
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    prompt = record["instruction"] + (f"\n{record['input']}" if record.get("input") else "")
    return messages + [{"role": "user", "content": prompt}, {"role": "assistant", "content": record["output"]}]


SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "system": "system"}


def sharegpt(record: dict) -> list[dict]:
    """{"conversations": [{"from": "human" | "gpt" | "system", "value"}, …]} or OpenAI-style
    {"messages": [{"role", "content"}, …]}"""
    turns = record.get("conversations") or record.get("messages")
    if not isinstance(turns, list) or not turns:
        raise RecordError("a sharegpt record needs a 'conversations' (or 'messages') list")
    messages = []
    for turn in turns:
        role = SHAREGPT_ROLES.get(str(turn.get("from", turn.get("role", ""))).lower())
        content = turn.get("value", turn.get("content"))
        if role is None or not isinstance(content, str):
            raise RecordError("each turn needs a role (human/gpt/system or user/assistant/system) and a text")
        messages.append({"role": role, "content": content})
    if messages[-1]["role"] != "assistant":
        raise RecordError("a conversation must end with the assistant's turn")
    return messages


def plain(record: dict) -> list[dict]:
    """{"text"}: continued pre-training on the whole text (no prompt to mask)."""
    if not isinstance(record.get("text"), str) or not record["text"]:
        raise RecordError("a plain record needs a non-empty 'text'")
    return [{"role": "text", "content": record["text"]}]


HANDLERS = {"alpaca": alpaca, "sharegpt": sharegpt, "plain": plain}
