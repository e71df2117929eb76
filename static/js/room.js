// The room page: a countdown / time-left timer, and a camera and microphone check before joining.
(function () {
  var page = document.querySelector(".room-page");
  if (!page) return;

  // Server time at render, so a wrong clock on the device does not move the timer.
  var skew = Date.parse(page.dataset.now) - Date.now();
  var starts = Date.parse(page.dataset.starts);
  var ends = Date.parse(page.dataset.ends);
  var opens = Date.parse(page.dataset.opens);
  var timer = document.getElementById("room-timer");

  function span(ms) {
    var total = Math.max(0, Math.round(ms / 1000));
    var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    var mm = (h ? String(m).padStart(2, "0") : String(m));
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }

  var reloaded = false;
  function tick() {
    var now = Date.now() + skew;
    if (now < starts) {
      timer.textContent = "Starts in " + span(starts - now);
      if (now >= opens && !document.getElementById("enter-room") && !reloaded) {
        reloaded = true;
        window.location.reload(); // the room just opened: show the way in
      }
    } else if (now < ends) {
      timer.textContent = "Time left: " + span(ends - now);
    } else {
      timer.textContent = "The session's time is up";
    }
  }
  if (timer) {
    tick();
    setInterval(tick, 1000);
  }

  var button = document.getElementById("device-test");
  if (!button) return;
  var cameraStatus = document.getElementById("camera-status");
  var micStatus = document.getElementById("mic-status");
  var level = document.getElementById("mic-level");
  var video = document.getElementById("device-video");

  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    cameraStatus.textContent = "Camera: this browser cannot check it here (the room will ask).";
    micStatus.textContent = "Microphone: the room will ask.";
    button.hidden = true;
    return;
  }

  function meter(stream) {
    var AudioContext = window.AudioContext || window.webkitAudioContext;
    if (!AudioContext || !stream.getAudioTracks().length) return;
    var context = new AudioContext();
    var analyser = context.createAnalyser();
    analyser.fftSize = 256;
    context.createMediaStreamSource(stream).connect(analyser);
    var data = new Uint8Array(analyser.frequencyBinCount);
    (function draw() {
      analyser.getByteFrequencyData(data);
      var sum = 0;
      for (var i = 0; i < data.length; i++) sum += data[i];
      level.style.width = Math.min(100, Math.round((sum / data.length) * 1.5)) + "%";
      requestAnimationFrame(draw);
    })();
  }

  button.addEventListener("click", function () {
    button.disabled = true;
    navigator.mediaDevices
      .getUserMedia({ video: true, audio: true })
      .then(function (stream) {
        video.srcObject = stream;
        cameraStatus.textContent = stream.getVideoTracks().length ? "Camera: working" : "Camera: none found";
        micStatus.textContent = stream.getAudioTracks().length ? "Microphone: working (speak to see the bar move)" : "Microphone: none found";
        meter(stream);
        button.textContent = "Checked";
      })
      .catch(function (error) {
        var denied = error && (error.name === "NotAllowedError" || error.name === "SecurityError");
        cameraStatus.textContent = denied
          ? "Camera: blocked. Allow it in your browser's address bar, or join without it."
          : "Camera or microphone: not found. You can still join and listen.";
        micStatus.textContent = "";
        button.disabled = false;
        button.textContent = "Try again";
      });
  });
})();
