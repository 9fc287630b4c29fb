"""The voice cascade: a realtime voice session on any chat model, as speech-to-text of the user's turn, the chat
model streamed, and text-to-speech sentence by sentence (road.py). Turn detection in vad.py, the response's run in
turn.py, sentence cutting and the speaker in speech.py."""
